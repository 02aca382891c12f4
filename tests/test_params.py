"""DeepRacer reward params, checked against the simulator's state and independent geometry."""
import math

import numpy as np
import pytest

from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import drive_lap
from simtools import centre_distance, write_track

DESIGN_KEYS = {
    "all_wheels_on_track", "x", "y", "heading", "distance_from_center", "is_left_of_center", "progress", "steps",
    "speed", "steering_angle", "track_width", "track_length", "waypoints", "closest_waypoints", "is_reversed",
    "is_offtrack", "is_crashed", "closest_objects", "objects_location", "objects_left_of_center", "object_in_camera",
    "objects_speed", "objects_heading", "objects_distance", "objects_distance_from_center", "projection_distance",
    "sim_time",
}


@pytest.fixture(scope="module")
def expert_lap():
    """Every params dict of one expert lap of the default track, with the car's true yaw at each step."""
    env = TimeTrialEnv()
    steps = []
    drive_lap(env, on_step=lambda obs, r, info: steps.append((info["params"], env.world.car.pose())))
    yield env, steps
    env.close()


def test_every_design_key_is_present_and_steps_start_at_one(expert_lap):
    _, steps = expert_lap
    assert set(steps[0][0]) == DESIGN_KEYS
    assert [p["steps"] for p, _ in steps] == list(range(1, len(steps) + 1))


def test_progress_rises_from_about_zero_to_one_hundred(expert_lap):
    _, steps = expert_lap
    progress = np.array([p["progress"] for p, _ in steps])
    assert progress[0] < 2.0 and progress[-1] == 100.0
    assert np.all(np.diff(progress) >= 0)


def test_closest_waypoints_bracket_the_car_along_the_track(expert_lap):
    env, steps = expert_lap
    s_of = env.track.s
    for params, _ in steps:
        prev, nxt = params["closest_waypoints"]
        assert nxt == (prev + 1) % len(params["waypoints"])
        s = params["projection_distance"]
        end = s_of[nxt] if nxt else env.track.length
        assert s_of[prev] <= s <= end


def test_heading_is_the_cars_yaw_in_degrees(expert_lap):
    _, steps = expert_lap
    for params, (_, _, yaw) in steps:
        assert -180.0 < params["heading"] <= 180.0
        diff = (params["heading"] - math.degrees(yaw) + 180) % 360 - 180
        assert abs(diff) < 1e-6


def test_distance_from_center_is_the_geometric_distance(expert_lap):
    env, steps = expert_lap
    for params, _ in steps[::10]:
        expected = centre_distance(env.track, (params["x"], params["y"]))
        assert params["distance_from_center"] == pytest.approx(expected, abs=0.003)


def test_reference_point_is_ahead_of_the_cars_centre(expert_lap):
    _, steps = expert_lap
    for params, (x, y, yaw) in steps[::10]:
        assert params["x"] == pytest.approx(x + 0.14 * math.cos(yaw), abs=1e-9)
        assert params["y"] == pytest.approx(y + 0.14 * math.sin(yaw), abs=1e-9)


def test_is_left_of_center_flips_when_the_car_crosses_the_centre_line():
    env = TimeTrialEnv()
    env.reset(seed=0)
    x, y, yaw = env.world.car.pose()
    # start 0.25 m right of the centre line, pointing 20 degrees to the left of the track's direction
    env.world.reset_car(x + 0.25 * math.sin(yaw), y - 0.25 * math.cos(yaw), yaw + math.radians(20))
    sides = []
    for _ in range(12):
        _, _, terminated, _, info = env.step(np.array([0.0, 1.0], np.float32))
        sides.append(info["params"]["is_left_of_center"])
    assert sides[0] is False and sides[-1] is True
    assert sides == sorted(sides)  # one flip, from right to left
    env.close()


def test_wheels_leave_the_track_before_the_car_counts_as_off_track():
    env = TimeTrialEnv()
    env.reset(seed=0)
    seen = []
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step(np.array([-30.0, 1.0], np.float32))
        seen.append((info["params"]["all_wheels_on_track"], info["params"]["is_offtrack"]))
    assert seen[0] == (True, False)
    assert (False, False) in seen  # some wheels off, not all: still racing
    assert seen[-1] == (False, True) and info["termination"] == "off_track"
    env.close()


def test_track_width_is_the_local_width(tmp_path):
    track = write_track(tmp_path, """name: wide-and-narrow
smooth: false
0 0 0.8
6 0 0.8
7 1 1.4
7 3 1.4
6 4 1.4
0 4 1.4
-1 3 1.4
-1 1 0.8
""")
    env = TimeTrialEnv(track=str(track))
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([0.0, 1.0], np.float32))
    narrow = info["params"]["track_width"]
    env.reset(options={"start_fraction": 0.5})
    _, _, _, _, info = env.step(np.array([0.0, 1.0], np.float32))
    wide = info["params"]["track_width"]
    assert narrow == pytest.approx(0.8, abs=0.01) and wide == pytest.approx(1.4, abs=0.01)
    env.close()


def test_params_are_a_fresh_dict_each_call():
    seen, counts = [], []

    def greedy(params):
        counts.append(len(params["waypoints"]))
        params["waypoints"].clear()  # a careless reward function must not break the next call
        seen.append(params)
        return 1.0

    env = TimeTrialEnv(reward_function=greedy)
    env.reset(seed=0)
    env.step(np.array([0.0, 1.0], np.float32))
    env.step(np.array([0.0, 1.0], np.float32))
    assert seen[0] is not seen[1]
    assert counts == [len(env.track.waypoints)] * 2
    env.close()
