"""DeepRacer's sensors in the simulator (sim/sensors.py, sim/lidar.py, the env's `sensors`): the sensor rules,
the LIDAR forms on ranges checked by hand, the rays hitting what stands on the track, and the stereo pair."""
import math

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from racekit.sim.env import TimeTrialEnv
from racekit.sim.lidar import LIDAR_AHEAD, RAY_ANGLES_DEG
from racekit.sim.render import Box
from racekit.sim.sensors import LIDAR_RAYS, LidarConfig, SensorError, check_sensors, lidar_observation, lidar_space


# -- the rules ---------------------------------------------------------------------------------------------
def test_sensor_lists_as_deepracer_allows_them_camera_first():
    assert check_sensors(["lidar", "stereo-cameras"]) == ("stereo-cameras", "lidar")
    assert check_sensors("front-camera") == ("front-camera",)
    assert check_sensors(["STEREO_CAMERAS", "SECTOR_LIDAR"]) == ("stereo-cameras", "sector-lidar")
    assert check_sensors(["observation"]) == ("front-camera",)


@pytest.mark.parametrize("sensors, words", [
    (["front-camera", "stereo-cameras"], "exactly one camera"),
    (["lidar"], "exactly one camera"),
    (["front-camera", "lidar", "sector-lidar"], "at most one LIDAR"),
    (["front-camera", "sonar"], "unknown sensor 'sonar'"),
    (["front-camera", "front-camera"], "listed twice"),
])
def test_sensor_lists_deepracer_forbids_are_one_clear_error(sensors, words):
    with pytest.raises(SensorError, match=words):
        check_sensors(sensors)


@pytest.mark.parametrize("config, field", [({"num_sectors": 6}, "num_sectors"), ({"num_sectors": 0}, "num_sectors"),
                                           ({"num_values_per_sector": 0}, "num_values_per_sector"),
                                           ({"clipping_dist": 20.0}, "clipping_dist"), ({"sectors": 8}, "unknown")])
def test_a_lidar_config_deepracer_would_refuse_names_its_field(config, field):
    with pytest.raises(SensorError, match=field):
        LidarConfig.from_dict(config)


# -- the LIDAR forms, by hand ------------------------------------------------------------------------------
def test_the_lidar_form_clips_ranges_to_deepracers_015_to_1_m():
    ranges = np.full(LIDAR_RAYS, math.inf)
    ranges[:4] = [0.05, 0.4, 0.99, 3.0]
    obs = lidar_observation(ranges, "lidar")
    assert obs.dtype == np.float32 and obs.shape == (64,)
    np.testing.assert_allclose(obs[:5], [0.15, 0.4, 0.99, 1.0, 1.0])
    assert lidar_space("lidar").contains(obs)


def test_the_sector_lidar_is_1_where_a_sector_of_8_rays_sees_something_within_half_a_metre():
    ranges = np.full(LIDAR_RAYS, 5.0)
    ranges[9] = 0.49  # sector 1 (rays 8-15)
    ranges[63] = 0.3  # sector 7
    ranges[20] = 0.51  # sector 2: just too far
    np.testing.assert_array_equal(lidar_observation(ranges, "sector-lidar"), [0, 1, 0, 0, 0, 0, 0, 1])


def test_the_discretized_sector_lidar_one_hot_encodes_each_sectors_nearest_distance():
    config = LidarConfig(num_sectors=4, num_values_per_sector=4, clipping_dist=2.0)  # bins of 0.5 m
    ranges = np.full(LIDAR_RAYS, math.inf)
    ranges[3] = 0.2  # sector 0 -> bin 0
    ranges[16 + 5] = 1.3  # sector 1 -> bin 2
    ranges[32:48] = 2.0  # sector 2: at the clipping distance, nothing detected
    obs = lidar_observation(ranges, "discretized-sector-lidar", config)  # sector 3: nothing at all
    np.testing.assert_array_equal(obs.reshape(4, 4), [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert lidar_space("discretized-sector-lidar", config).shape == (16,)


# -- the env -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lidar_env():
    env = TimeTrialEnv(track="oval", sensors=["front-camera", "lidar"])
    yield env
    env.close()


def test_the_env_with_a_lidar_observes_a_dict_keyed_by_sensor_and_passes_gymnasiums_checker(lidar_env):
    assert isinstance(lidar_env.observation_space, spaces.Dict)
    assert set(lidar_env.observation_space.spaces) == {"front-camera", "lidar"}
    check_env(lidar_env, skip_render_check=True)
    obs, _ = lidar_env.reset(seed=1)
    assert obs["front-camera"].shape == (60, 80, 1) and obs["lidar"].shape == (64,)


def test_one_sensor_keeps_todays_array_observation():
    env = TimeTrialEnv(track="oval")
    try:
        assert env.observation_space == spaces.Box(0, 255, (60, 80, 1), np.uint8)
    finally:
        env.close()


def test_the_lidar_sees_nothing_on_flat_tape_and_a_box_beside_the_car_on_the_right_ray(lidar_env):
    lidar_env.reset(seed=2)
    assert np.all(np.isinf(lidar_env.lidar.scan()))  # the oval has no obstacles: the track is under the scan plane
    x, y, yaw = lidar_env.world.car.pose()
    left = np.array([-math.sin(yaw), math.cos(yaw)])
    ahead = np.array([math.cos(yaw), math.sin(yaw)])
    scanner = np.array([x, y]) + LIDAR_AHEAD * ahead
    centre = scanner + 0.5 * left  # a 0.2 m box whose near face is 0.4 m to the scanner's left
    index = lidar_env.world.add_box(Box((*centre, 0.15), (0.1, 0.1, 0.15), yaw, (200, 100, 0)))
    try:
        ranges = lidar_env.lidar.scan()
        ray = int(np.argmin(np.abs(RAY_ANGLES_DEG - 90.0)))
        assert ranges[ray] == pytest.approx(0.4 / math.cos(math.radians(RAY_ANGLES_DEG[ray] - 90.0)), abs=0.005)
        behind = int(np.argmin(np.abs(np.abs(RAY_ANGLES_DEG) - 180.0)))
        assert math.isinf(ranges[behind])  # nothing behind
        sectors = lidar_observation(ranges, "sector-lidar")
        assert sectors[ray // 8] == 1.0 and sectors.sum() == 1.0
    finally:
        lidar_env.world.move_box(index, 1000.0, 1000.0, 0.0)  # out of the other tests' way


def test_the_rays_sweep_from_front_left_round_the_back_to_front_right_leaving_a_blind_cone_ahead():
    assert RAY_ANGLES_DEG[0] == pytest.approx(30.0) and RAY_ANGLES_DEG[-1] == pytest.approx(-30.0)
    swept = np.diff(np.unwrap(np.radians(RAY_ANGLES_DEG)))
    assert np.all(swept > 0) and np.degrees(swept.sum()) == pytest.approx(300.0)  # counter-clockwise, 300 degrees
    assert not np.any(np.abs(RAY_ANGLES_DEG) < 30.0 - 1e-9)


def test_stereo_cameras_see_a_box_ahead_with_disparity():
    env = TimeTrialEnv(track="oval", sensors=["stereo-cameras"], race_type="object-avoidance",
                       num_objects=1, object_positions=[(0.05, 1)])
    try:
        obs, _ = env.reset(seed=0, options={"start_fraction": 0.0})
        world = env.world
        standing, world.standing = world.standing, []
        empty = world.stereo_cameras(env.camera)
        world.standing = standing
        box = np.abs(obs.astype(int) - empty.astype(int)).sum(axis=0) > 0  # (width, 2): columns showing the box
        left_cols, right_cols = np.flatnonzero(box[:, 0]), np.flatnonzero(box[:, 1])
        assert len(left_cols) and len(right_cols)
        # the left camera sees the box further right in its picture than the right camera does
        assert left_cols.mean() > right_cols.mean()
        assert obs.shape == (60, 80, 2)
    finally:
        env.close()


def test_stereo_cameras_are_grey():
    with pytest.raises(SensorError, match="grey"):
        TimeTrialEnv(track="oval", sensors=["stereo-cameras"], grayscale=False)


def test_randomisation_drops_and_blurs_lidar_rays_and_gives_the_right_camera_its_own_mount():
    from racekit.sim.randomization import Randomization

    shaky = Randomization(lidar_noise=(0.2, 0.2), lidar_dropout=(0.5, 0.5), stereo_skew=(3.0, 3.0),
                          camera_pitch=(2.0, 2.0))
    env = TimeTrialEnv(track="oval", sensors=["stereo-cameras", "lidar"], race_type="object-avoidance",
                       num_objects=4, randomize=shaky)
    steady = TimeTrialEnv(track="oval", sensors=["stereo-cameras", "lidar"], race_type="object-avoidance",
                          num_objects=4)
    try:
        env.reset(seed=3)
        steady.reset(seed=3)
        ranges = np.array([steady.lidar.scan() for _ in range(20)])
        scanned = np.array([env._randomizer.scan(r) for r in ranges])  # this episode's scanner
        dropped = np.isinf(scanned) & np.isfinite(ranges)
        assert 0.35 < dropped.sum() / np.isfinite(ranges).sum() < 0.65  # about half the returns lost
        kept = np.isfinite(scanned)
        assert 0.1 < np.std(scanned[kept] - ranges[kept]) < 0.3  # sigma 0.2 m
        left, right = env.world.camera_jitter, env.world.right_camera_jitter
        assert left.pitch_deg == 2.0 and right != left
        assert max(abs(right.pitch_deg - 2.0), abs(right.roll_deg), abs(right.yaw_deg)) <= 3.0
    finally:
        env.close()
        steady.close()


# -- the car sees what the simulator sees --------------------------------------------------------------------
@pytest.mark.parametrize("sensor", ["lidar", "sector-lidar", "discretized-sector-lidar"])
@pytest.mark.parametrize("config", [LidarConfig(), LidarConfig(4, 3, 1.2), LidarConfig(16, 1, 0.5)])
def test_the_car_turns_a_scan_into_exactly_the_simulators_observation(sensor, config):
    from racekit.hardware import lidar_observation as car

    rng = np.random.default_rng(7)
    for _ in range(20):
        ranges = rng.uniform(0.0, 3.0, LIDAR_RAYS)
        ranges[rng.random(LIDAR_RAYS) < 0.3] = math.inf  # rays that met nothing
        ranges = np.round(ranges, 3)  # millimetres, as the device reports them (float32 on the car)
        # the same ranges as an RPLIDAR on DeepRacer Evo's mount reports them: device angles, clockwise
        device_angles = (car.EVO_MOUNT_YAW_DEG - RAY_ANGLES_DEG) % 360.0
        distances = np.where(np.isfinite(ranges), ranges, 0.0).astype(np.float32)  # 0: no return
        on_car = car.scan_to_ranges(device_angles, distances)
        np.testing.assert_allclose(on_car, ranges, atol=1e-6)
        car_config = car.LidarConfig(config.num_sectors, config.num_values_per_sector, config.clipping_dist)
        np.testing.assert_array_equal(car.lidar_observation(on_car, sensor, car_config),
                                      lidar_observation(on_car, sensor, config))
    np.testing.assert_allclose(car.RAY_ANGLES_DEG, RAY_ANGLES_DEG)
