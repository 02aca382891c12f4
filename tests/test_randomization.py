"""Domain randomisation: seeded repeats, each field on its own, the file form and its errors, the real env."""
import dataclasses
import functools
import math

import numpy as np
import pybullet as p
import pytest
from gymnasium.utils.env_checker import check_env

from racekit.sim.env import TimeTrialEnv
from racekit.sim.randomization import (LOOK_FIELDS, PRESETS, RANGES, Randomization, RandomizationError,
                                       as_randomization)
from simtools import frame_hash, straight_track

STEER_LEFT = np.array([30.0, 1.0], np.float32)
STRAIGHT = np.array([0.0, 1.0], np.float32)


def hashes(randomize, seed: int, episodes: int = 3, steps: int = 4, **kwargs) -> list[str]:
    """Frame hashes over a few short episodes, driving a fixed action sequence."""
    env = TimeTrialEnv(randomize=randomize, **kwargs)
    out = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        out.append(frame_hash(obs))
        for k in range(steps):
            obs, *_ = env.step(np.array([(-1) ** k * 10.0, 1.5], np.float32))
            out.append(frame_hash(obs))
    env.close()
    return out


@pytest.mark.parametrize("renderer", ["fast", "tiny"])
def test_the_same_seed_repeats_every_frame_and_another_seed_differs(renderer):
    kwargs = dict(renderer=renderer, grayscale=False, camera_width=48, camera_height=36)
    first = hashes("default", 3, **kwargs)
    assert hashes("default", 3, **kwargs) == first
    other = hashes("default", 4, **kwargs)
    assert all(a != b for a, b in zip(first, other))


def test_a_randomised_env_passes_the_gymnasium_checker():
    env = TimeTrialEnv(randomize="strong", grayscale=False)
    check_env(env, skip_render_check=True)  # reset(seed) twice gives the same observation, among others
    env.close()


def test_randomize_none_is_bit_identical_to_a_plain_env():
    plain = hashes(None, 5, start_noise=True, race_type="object-avoidance")
    assert hashes("none", 5, start_noise=True, race_type="object-avoidance") == plain
    env = TimeTrialEnv(start_noise=True, race_type="object-avoidance")
    assert env.drawn is None and "randomization" not in env.reset(seed=5)[1]
    env.close()
    assert hashes(None, 5, start_noise=True, race_type="object-avoidance") != hashes("default", 5)


@functools.cache
def drawn(randomization: Randomization, seed: int = 1) -> dict:
    env = TimeTrialEnv(randomize=randomization)
    _, info = env.reset(seed=seed)
    env.close()
    return info["randomization"]


@pytest.mark.parametrize("field", list(RANGES))
def test_a_field_switched_off_is_not_drawn_and_the_others_draw_the_same(field):
    default = PRESETS["default"]
    assert set(drawn(default)) == set(default.enabled) | {"look"}
    off = drawn(dataclasses.replace(default, **{field: None}))
    assert field not in off
    same = [k for k in drawn(default) if k != field and not (k == "look" and field in LOOK_FIELDS)]
    assert {k: drawn(default)[k] for k in same} == {k: off[k] for k in same}


def first_frame(randomize, **kwargs) -> np.ndarray:
    env = TimeTrialEnv(randomize=randomize, **kwargs)
    obs, _ = env.reset(seed=0)
    env.close()
    return obs


def test_brightness_scales_the_picture_and_only_the_picture():
    plain = first_frame(None, grayscale=False).astype(np.float64)
    dark = first_frame(Randomization(brightness=(0.5, 0.5)), grayscale=False).astype(np.float64)
    assert np.abs(dark - np.rint(plain * 0.5)).max() <= 1  # a pure gain: every pixel halved
    gamma = first_frame(Randomization(gamma=(2.0, 2.0)), grayscale=False)
    assert gamma.mean() < plain.mean() - 20
    assert np.array_equal(first_frame(Randomization(camera_pitch=(0.0, 0.0))), first_frame(None))  # zero jitter


def test_colour_cast_noise_blur_and_jpeg_change_the_frame():
    plain = first_frame(None, grayscale=False)
    cast = first_frame(Randomization(colour_cast=(0.8, 1.2)), grayscale=False)
    assert cast.shape == plain.shape and not np.array_equal(cast, plain)
    for field, value in [("noise", (6.0, 6.0)), ("blur", (1.5, 1.5)), ("jpeg", (20, 20))]:
        for grayscale in (True, False):
            frame = first_frame(Randomization(**{field: value}), grayscale=grayscale)
            base = first_frame(None, grayscale=grayscale)
            assert frame.shape == base.shape and frame.dtype == np.uint8
            assert 0.5 < np.abs(frame.astype(int) - base).mean() < 12, field


def steering_after_each_step(latency: int, steps: int = 8) -> list[float]:
    """The left front steering hinge's angle after each step: straight for 2 steps, then full lock."""
    env = TimeTrialEnv(randomize=Randomization(latency=(latency, latency)) if latency else None)
    env.reset(seed=0)
    car = env.world.car
    angles = []
    for k in range(steps):
        env.step(STRAIGHT if k < 2 else STEER_LEFT)
        angles.append(p.getJointState(car.body, car.steering_joints[0], physicsClientId=env.world.client)[0])
    env.close()
    return angles


def test_latency_delays_the_cars_response_by_that_many_control_steps():
    now, late = steering_after_each_step(0), steering_after_each_step(2)
    assert now[2] > 0.1 and abs(late[2]) < 1e-3 and abs(late[3]) < 1e-3  # the step comes 2 steps later
    assert late[4:] == pytest.approx(now[2:6], abs=0.01)


def heading_change(randomize, tmp_path, steps: int = 30) -> float:
    env = TimeTrialEnv(track=straight_track(tmp_path), randomize=randomize)
    env.reset(seed=0)
    yaw0 = env.world.car.pose()[2]
    for _ in range(steps):
        env.step(np.array([0.0, 1.0], np.float32))
    yaw = env.world.car.pose()[2]
    env.close()
    return math.degrees(yaw - yaw0)


def test_steering_trim_curves_a_car_driving_straight(tmp_path):
    assert abs(heading_change(None, tmp_path)) < 1.0
    assert heading_change(Randomization(steering_trim=(3.0, 3.0)), tmp_path) > 5.0  # left
    assert heading_change(Randomization(steering_trim=(-3.0, -3.0)), tmp_path) < -5.0


def run_out_at_full_lock(friction: float) -> float:
    """Metres the car runs on along its first heading before turning 90 degrees at full lock from 2 m/s,
    driven in the env's world after a reset (no episode rules): wider when the tyres slide more."""
    env = TimeTrialEnv(track="oval", randomize=Randomization(tyre_friction=(friction, friction)))
    env.reset(seed=0)
    world = env.world
    for _ in range(20):
        world.step(0.0, 2.0)
    x0, y0, yaw0 = world.car.pose()
    for _ in range(40):
        world.step(30.0, 2.0)
        x, y, yaw = world.car.pose()
        if (yaw - yaw0) % (2 * math.pi) >= math.pi / 2:
            break
    env.close()
    return (x - x0) * math.cos(yaw0) + (y - y0) * math.sin(yaw0)


def test_lower_tyre_friction_slides_wider_at_full_lock():
    assert run_out_at_full_lock(0.4) > 1.3 * run_out_at_full_lock(1.0)


def test_speed_gain_and_servo_slew_reach_the_car(tmp_path):
    env = TimeTrialEnv(track=straight_track(tmp_path), randomize=Randomization(speed_gain=(0.5, 0.5),
                                                                               steering_rate=(2.0, 2.0)))
    env.reset(seed=0)
    assert env.world.car.spec.steering_rate == 2.0
    for _ in range(20):
        env.step(np.array([0.0, 2.0], np.float32))
    assert env.world.car.speed() == pytest.approx(1.0, rel=0.1)
    env.close()


def test_an_indoor_floor_changes_the_pixels_off_the_road_but_not_the_road():
    plain = TimeTrialEnv()
    carpet = TimeTrialEnv(randomize=Randomization(floors=("carpet",)))
    frames = [env.reset(seed=0)[0] for env in (plain, carpet)]
    a, b = plain.world.ground_image.image, carpet.world.ground_image.image
    g = plain.world.ground_image
    rows, cols = np.mgrid[0:a.shape[0]:7, 0:a.shape[1]:7]
    xy = np.stack([g.xmin + (cols + 0.5) / g.px_per_m, g.ymin + (a.shape[0] - rows - 0.5) / g.px_per_m], -1)
    xy = xy.reshape(-1, 2)
    s, offset = plain.track.project(xy)
    road = np.abs(offset) < plain.track.width_at(s) / 2 - 0.05  # inside the border tape
    off = np.abs(offset) > plain.track.width_at(s) / 2 + 0.05
    pa, pb = a[rows, cols].reshape(-1, 3), b[rows, cols].reshape(-1, 3)
    assert np.array_equal(pa[road], pb[road])
    assert np.mean(np.any(pa[off] != pb[off], axis=1)) > 0.9
    assert np.array_equal(frames[0][-10:], frames[1][-10:])  # the road just ahead of the car: the same
    assert not np.array_equal(frames[0], frames[1])
    plain.close(), carpet.close()


def test_looks_are_redrawn_every_look_every_episodes():
    env = TimeTrialEnv(randomize=Randomization(floors=("carpet", "wood", "concrete", "tiles"), look_every=2))
    looks, floors = [], []
    for episode in range(4):
        env.reset(seed=7 if episode == 0 else None)
        looks.append(env.drawn["look"]["seed"])
        floors.append((env.drawn["floors"], env.drawn["look"]["floor"]))
    assert looks[0] == looks[1] != looks[2] == looks[3]
    assert floors[0] == floors[1] and floors[2] == floors[3] and all(a == b for a, b in floors)  # what is shown
    env.close()


def test_distractors_stand_beside_the_road_seen_but_never_objects():
    env = TimeTrialEnv(randomize=Randomization(distractors=(6, 6)), renderer="tiny")
    _, info = env.reset(seed=2)
    placed = [b for b in env.world.scenery if b.centre[2] < 10]
    assert len(placed) == 6 and info["objects"] == []
    corners = np.array([(b.centre[0] + sx * b.half[0], b.centre[1] + sy * b.half[1])
                        for b in placed for sx in (-1.4, 1.4) for sy in (-1.4, 1.4)])
    assert not np.any(env.track.is_inside(corners))
    _, _, _, _, info = env.step(STRAIGHT)
    assert info["params"]["objects_location"] == [] and not env.world.crashed()
    env.close()


def test_the_tiny_renderer_gets_the_new_look_and_an_equal_picture_keeps_the_frame():
    env = TimeTrialEnv(renderer="tiny", grayscale=False)
    obs, _ = env.reset(seed=0)
    world = env.world
    world.set_scene(world.ground_image.image.copy(), world.renderer.light)  # rewritten in place, the same
    assert np.array_equal(world.front_camera(env.camera), obs)
    world.set_scene(255 - world.ground_image.image, world.renderer.light)
    assert np.abs(world.front_camera(env.camera).astype(int) - obs).mean() > 30
    env.close()


def test_camera_jitter_moves_the_view_and_is_reported():
    env = TimeTrialEnv(randomize=Randomization(camera_pitch=(6.0, 6.0), camera_fov=(-10.0, -10.0)))
    obs, info = env.reset(seed=0)
    assert info["randomization"] == {"camera_pitch": 6.0, "camera_fov": -10.0}
    assert not np.array_equal(obs, first_frame(None))
    env.close()


def test_presets_and_files_round_trip(tmp_path):
    for name, preset in PRESETS.items():
        assert Randomization.parse(preset.to_text()) == preset == Randomization.preset(name)
        assert as_randomization(name) == preset
    path = tmp_path / "mine.txt"
    path.write_text("# my garage\npreset: default\nbrightness: 0.6 1.4   # darker evenings\n"
                    "floors: carpet, concrete\nlatency: 0 2\njpeg: off\nlook_every: 5\n")
    mine = Randomization.load(path)
    assert mine == dataclasses.replace(PRESETS["default"], brightness=(0.6, 1.4), floors=("carpet", "concrete"),
                                       latency=(0, 2), jpeg=None, look_every=5)
    assert as_randomization(str(path)) == mine
    assert set(RANGES) == {f.name for f in dataclasses.fields(Randomization)} - {"look_every"}


@pytest.mark.parametrize("line, words", [
    ("brightness: 1.3 0.7", ["brightness", "1.3", "0.7", "above"]),
    ("brightnes: 1 2", ["brightnes", "unknown field"]),
    ("latency: 0 9", ["latency", "9", "outside"]),
    ("floors: carpet, marble", ["floors", "marble"]),
    ("gamma: dark", ["gamma", "dark"]),
    ("jpeg: 10.5 20", ["jpeg", "10.5", "whole"]),
    ("look_every: 0", ["look_every", "0"]),
    ("tyre_friction 0.5 1", ["tyre_friction 0.5 1", "field: value"]),
    ("noise: 1 2 3", ["noise", "1 2 3"]),
])
def test_a_bad_file_names_the_file_the_field_and_the_value(tmp_path, line, words):
    path = tmp_path / "bad.txt"
    path.write_text(f"preset: default\n{line}\n")
    with pytest.raises(RandomizationError) as e:
        Randomization.load(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message and "line 2" in message
    for word in words:
        assert word in message


def test_bad_arguments_are_clear():
    with pytest.raises(RandomizationError, match="neither a preset"):
        TimeTrialEnv(randomize="no-such-preset")
    with pytest.raises(RandomizationError, match="contrast"):
        Randomization(contrast=(2.0, 1.0))
    with pytest.raises(RandomizationError, match="floors"):
        Randomization(floors=("lava",))
