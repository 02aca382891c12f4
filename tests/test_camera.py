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
