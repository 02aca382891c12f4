"""The front camera: sizes and channels, its placement checked by geometry, and the car never in its own view."""
import math

import numpy as np
import pytest

from racekit.sim.camera import CameraSpec, in_view
from racekit.sim.render.pybullet_camera import render_rgb as render
from racekit.sim.env import TimeTrialEnv


@pytest.mark.parametrize("width, height, grayscale", [(80, 60, True), (160, 120, False), (64, 64, True)])
def test_frames_have_the_asked_size_and_channels(width, height, grayscale):
    env = TimeTrialEnv(camera_width=width, camera_height=height, grayscale=grayscale)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (height, width, 1 if grayscale else 3) and obs.dtype == np.uint8
    env.close()


def test_vertical_field_of_view_follows_the_aspect_ratio():
    assert CameraSpec(160, 120).vertical_fov_deg == pytest.approx(2 * math.degrees(math.atan(math.tan(math.radians(60)) * 0.75)))
    assert CameraSpec(64, 64).vertical_fov_deg == pytest.approx(120.0)


@pytest.mark.parametrize("kwargs, words", [({"channels": 2}, "channels"), ({"width": 4}, "size"),
                                           ({"fov_deg": 180}, "fov_deg")])
def test_bad_camera_specs_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        CameraSpec(**kwargs)


@pytest.mark.parametrize("renderer", ["fast", "tiny"])
def test_a_line_one_metre_ahead_appears_where_height_pitch_and_fov_put_it(renderer):
    env = TimeTrialEnv(track="oval", camera_width=160, camera_height=120, renderer=renderer)
    # the car's centre 1.14 m before the start line: the camera (0.14 m ahead of it) is 1.0 m from the line
    env.reset(seed=0, options={"start_fraction": 1 - 1.14 / env.track.length})
    frame = env.world.front_camera(env.camera)[:, :, 0].astype(float)
    # depression of the line seen from 0.14 m up, relative to the optical axis pitched 15 degrees down
    angle = math.radians(15) - math.atan2(0.14, 1.0)
    focal = 60 / math.tan(math.radians(env.camera.vertical_fov_deg) / 2)
    expected_row = 60 - focal * math.tan(angle)
    horizon = 60 - focal * math.tan(math.radians(15))
    first = int(horizon) + 3  # below the (white) sky
    columns = frame[first:, 55:70]  # left of the dashed centre line, inside the road
    brightest_row = first + int(np.argmax(columns.mean(axis=1)))
    assert abs(brightest_row - expected_row) <= 2
    # white line on dark road (the fast renderer's filtering spreads the 10 cm line over about two rows)
    assert columns.mean(axis=1).max() > 120 and np.median(columns) < 80
    env.close()


def test_the_car_never_appears_in_its_own_camera():
    env = TimeTrialEnv(camera_width=160, camera_height=120, grayscale=False)
    env.reset(seed=0)
    for _ in range(10):  # moving, steering: the body pitches and the wheels turn
        env.step(np.array([30.0, 3.0], np.float32))
    car, client = env.world.car, env.world.client
    eye, forward, up = car.camera_frame()
    vfov = env.camera.vertical_fov_deg
    with_car = render(client, eye, eye + forward, up, 160, 120, vfov)
    x, y, yaw = car.pose()
    car.reset(x + 50.0, y + 50.0, yaw)  # take the car out of the scene, keep the camera where it was
    without_car = render(client, eye, eye + forward, up, 160, 120, vfov)
    assert np.array_equal(with_car, without_car)
    env.close()


def test_in_view_sees_what_is_ahead_and_not_what_is_behind():
    env = TimeTrialEnv()
    env.reset(seed=0)
    x, y, yaw = env.world.car.pose()
    ahead = (x + 2 * math.cos(yaw), y + 2 * math.sin(yaw), 0.05)
    behind = (x - 2 * math.cos(yaw), y - 2 * math.sin(yaw), 0.05)
    far_left = (x - 2 * math.sin(yaw) + 0.1 * math.cos(yaw), y + 2 * math.cos(yaw) + 0.1 * math.sin(yaw), 0.05)
    assert in_view(env.world.car, env.camera, [ahead, behind, far_left]).tolist() == [True, False, False]
    env.close()


# -- DeepRacer's camera: its mount and its lens ----------------------------------------------------------------
def test_the_deepracer_mount_is_deepracers_camera_link_on_a_car_resting_on_its_wheels():
    from racekit.sim.camera import DEEPRACER_FOV_DEG, DEEPRACER_MOUNT

    # camera_link: (0.091711, 0.080023) + R(15 deg) (0.044755, 0.04) on the chassis, the car nose up 1.39 degrees
    assert DEEPRACER_MOUNT.ahead == pytest.approx(0.1427, abs=5e-4)
    assert DEEPRACER_MOUNT.height == pytest.approx(0.1328, abs=5e-4)
    assert DEEPRACER_MOUNT.pitch_deg == pytest.approx(15.0 - math.degrees(math.atan(0.003991 / 0.163974)), abs=1e-3)
    assert DEEPRACER_FOV_DEG == pytest.approx(64.744, abs=1e-3)  # 1.13 rad


def sky_rows(frame: np.ndarray) -> int:
    """Rows from the top that are all sky (white, racekit's look), in the middle columns."""
    middle = frame[:, frame.shape[1] // 2 - 20:frame.shape[1] // 2 + 20]
    return int(np.argmin(np.all(middle == 255, axis=(1, 2))))


def test_the_deepracer_camera_puts_the_horizon_where_deepracers_own_frames_have_it():
    from racekit.sim.camera import DEEPRACER_FOV_DEG

    # deepracer-utils' dr-demo-2.png (640x480): the walls' top and bottom edges meet on the horizon at row
    # 118.6; racekit's camera (15 degrees down, 120 degree lens) has it at row 240 - 320 / tan 60 * tan 15 = 190.5
    rows = {}
    for mount, fov in (("deepracer", DEEPRACER_FOV_DEG), ("racekit", 120.0)):
        env = TimeTrialEnv(track="oval", camera_width=640, camera_height=480, grayscale=False, fov_deg=fov,
                           camera_mount=mount)
        env.reset(seed=0)
        rows[mount] = sky_rows(env.world.front_camera(env.camera))
        env.close()
    assert abs(rows["deepracer"] - 118.6) <= 1.5, rows
    assert abs(rows["racekit"] - 190.5) <= 1.5, rows


def road_width_px(env, metres_ahead: float) -> tuple[int, float]:
    """Dark road pixels across the row that shows the ground `metres_ahead` of the camera, and the pixels one
    metre across the view spans there (the pinhole's prediction)."""
    from racekit.sim.camera import camera_pose

    pose = camera_pose(env.world.car, env.camera)
    eye, forward = pose.eye, pose.forward
    pitch = math.asin(-forward[2])
    below = math.atan2(eye[2], metres_ahead) - pitch  # below the optical axis
    row = int(round(env.camera.height / 2 + pose.focal * math.tan(below) - 0.5))
    depth = math.hypot(eye[2], metres_ahead) * math.cos(below)
    frame = env.world.front_camera(env.camera)[:, :, 0]
    return int((frame[row] < 80).sum()), pose.focal / depth


@pytest.mark.parametrize("mount", ["racekit", "deepracer"])
def test_a_narrower_lens_makes_the_same_road_look_wider(mount):
    from racekit.sim.camera import DEEPRACER_FOV_DEG

    widths = {}
    for fov in (120.0, DEEPRACER_FOV_DEG):
        env = TimeTrialEnv(track="oval", camera_width=160, camera_height=120, fov_deg=fov, camera_mount=mount)
        env.reset(seed=0, options={"start_fraction": 0.02})  # on the oval's first straight
        widths[fov], px_per_m = road_width_px(env, 1.2)
        road = env.track.width_at(env.lap.s + 1.3) - 0.05  # between the borders' inner edges
        assert widths[fov] == pytest.approx(road * px_per_m, rel=0.12)  # the pinhole's width, from the lens
        env.close()
    focal_ratio = math.tan(math.radians(60)) / math.tan(math.radians(DEEPRACER_FOV_DEG / 2))  # 2.73
    assert widths[DEEPRACER_FOV_DEG] / widths[120.0] == pytest.approx(focal_ratio, rel=0.08)


def test_randomised_camera_jitter_adds_to_the_chosen_mount_and_lens():
    from racekit.sim.camera import DEEPRACER_MOUNT, camera_pose
    from racekit.sim.randomization import Randomization

    env = TimeTrialEnv(camera_mount="deepracer", fov_deg=64.74,
                       randomize=Randomization(camera_pitch=(6.0, 6.0), camera_fov=(-10.0, -10.0),
                                               camera_height=(0.01, 0.01)))
    env.reset(seed=0)
    pose = camera_pose(env.world.car, env.camera, env.world.camera_jitter)
    assert pose.fov_deg == pytest.approx(54.74)
    assert math.degrees(math.asin(-pose.forward[2])) == pytest.approx(DEEPRACER_MOUNT.pitch_deg + 6.0, abs=0.2)
    assert pose.eye[2] == pytest.approx(DEEPRACER_MOUNT.height + 0.01, abs=3e-3)  # the car settles a little
    env.close()


def test_the_car_never_appears_in_the_deepracer_camera_either():
    env = TimeTrialEnv(camera_width=160, camera_height=120, grayscale=False, camera_mount="deepracer", fov_deg=64.74)
    env.reset(seed=0)
    for _ in range(10):
        env.step(np.array([30.0, 3.0], np.float32))
    car, client = env.world.car, env.world.client
    eye, forward, up = car.camera_frame()
    assert eye[2] == pytest.approx(0.133, abs=0.01)
    with_car = render(client, eye, eye + forward, up, 160, 120, env.camera.vertical_fov_deg)
    x, y, yaw = car.pose()
    car.reset(x + 50.0, y + 50.0, yaw)
    assert np.array_equal(with_car, render(client, eye, eye + forward, up, 160, 120, env.camera.vertical_fov_deg))
    env.close()
