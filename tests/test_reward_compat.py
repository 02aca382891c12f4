"""Public DeepRacer reward functions pass `racekit reward check` unchanged (issue 11).

Each file below is modelled on a kind of function DeepRacer users publish, and goes through the
real checker: the five validation states and real sim steps of the expert driver.
"""
import math
import tomllib
from pathlib import Path

import pytest

from racekit.cli import main
from racekit.sim.check import validation_states
from racekit.sim.reward import RewardError, load_reward
from racekit.tracks import load_track

REPO = Path(__file__).resolve().parents[1]
STEPS = "30"  # a few real sim steps are enough here; the states are what these functions trip on

# A racing-line function that remembers where the episode started: set at steps == 1, used after.
STATEFUL = """\
first_waypoint = None


def reward_function(params):
    global first_waypoint
    if params["steps"] == 1:
        first_waypoint = params["closest_waypoints"][1]
    n = len(params["waypoints"])
    passed = (params["closest_waypoints"][1] - first_waypoint) % n
    return 1.0 + passed / n
"""

# Distance to the racing line through shapely, as on DeepRacer's simulator.
SHAPELY = """\
from shapely.geometry import LineString, Point


def reward_function(params):
    racing_line = LineString(params["waypoints"])
    distance = racing_line.distance(Point(params["x"], params["y"]))
    return max(1e-3, 1.0 - distance / (0.5 * params["track_width"]))
"""

LARGE_OFF_TRACK = """\
def reward_function(params):
    if params["is_offtrack"]:
        return 117000.0
    return 1.0
"""

NAN_OFF_TRACK = """\
def reward_function(params):
    if params["is_offtrack"]:
        return float("nan")
    return 1.0
"""

# An object-avoidance function: on a time trial the object lists are empty.
OBJECTS = """\
def reward_function(params):
    x, y = params["x"], params["y"]
    next_object = params["objects_location"][params["closest_objects"][1]]
    gap = ((next_object[0] - x) ** 2 + (next_object[1] - y) ** 2) ** 0.5
    return 1.0 if gap > 0.5 else 1e-3
"""


def reward_file(tmp_path, body: str) -> Path:
    path = tmp_path / "my_reward.py"
    path.write_text(body)
    return path


def check(path: Path) -> int:
    return main(["reward", "check", str(path), "--steps", STEPS])


def state_rewards(out: str) -> dict[str, float]:
    """The check's '  name  value' lines of the validation states, in the order printed."""
    rows = [line.split() for line in out.splitlines() if line.startswith("  ") and "sim steps" not in line]
    return {name: float(value) for name, value in rows}


def test_the_states_come_in_the_order_of_one_episode():
    states = validation_states(load_track("oval"))
    assert set(states) == {"start", "valid", "progress", "off-track", "finish"}
    steps = [p["steps"] for p in states.values()]
    progress = [p["progress"] for p in states.values()]
    assert steps[0] == 1 and steps == sorted(set(steps)), steps
    assert progress == sorted(progress), progress


def test_a_function_that_sets_up_state_at_the_first_step_passes(tmp_path, capsys):
    assert check(reward_file(tmp_path, STATEFUL)) == 0
    out = capsys.readouterr().out
    assert "ok: every call returned a finite number" in out
    # the waypoint remembered at the start is used by the later states: the further along, the more reward
    rewards = state_rewards(out)
    assert list(rewards) == ["start", "valid", "off-track", "progress", "finish"]
    assert rewards["start"] == pytest.approx(1.0, abs=0.05)
    assert rewards["start"] < rewards["valid"] < rewards["progress"] < rewards["finish"]


def test_a_function_importing_shapely_passes(tmp_path, capsys):
    assert check(reward_file(tmp_path, SHAPELY)) == 0
    out = capsys.readouterr().out
    assert "ok: every call returned a finite number" in out
    # on the centre line at the start, so close to the full reward: shapely really measured it
    assert state_rewards(out)["start"] > 0.9


def test_shapely_is_in_the_sim_extra():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("shapely") for dep in extras["sim"])


def test_a_large_finite_reward_passes_with_a_warning(tmp_path, capsys):
    path = reward_file(tmp_path, LARGE_OFF_TRACK)
    assert check(path) == 0
    captured = capsys.readouterr()
    assert "ok: every call returned a finite number" in captured.out
    assert f"warning: {path} line 3: reward_function returned 117000 on the off-track state" in captured.err


def test_a_reward_within_bounds_gets_no_warning(tmp_path, capsys):
    assert check(reward_file(tmp_path, STATEFUL)) == 0
    assert "warning" not in capsys.readouterr().err


def test_nan_is_still_refused(tmp_path, capsys):
    path = reward_file(tmp_path, NAN_OFF_TRACK)
    assert check(path) == 2
    assert f"{path} line 3: reward_function returned nan, not a finite number" in capsys.readouterr().err


def test_reading_objects_on_a_time_trial_says_it_needs_objects(tmp_path, capsys):
    path = reward_file(tmp_path, OBJECTS)
    assert check(path) == 2
    err = capsys.readouterr().err
    assert f"{path} line 3: reward_function raised IndexError" in err
    assert "reads object params (closest_objects, objects_location)" in err
    assert "--race-type object-avoidance or head-to-bot" in err


def test_a_missing_object_key_gets_the_same_advice(tmp_path):
    path = reward_file(tmp_path, "def reward_function(params):\n    return len(params['objects_speed'])\n")
    params = {k: v for k, v in validation_states(load_track("oval"))["valid"].items() if k != "objects_speed"}
    with pytest.raises(RewardError, match=r"line 2: reward_function raised KeyError: 'objects_speed'\. It reads "
                                          r"object params \(objects_speed\)"):
        load_reward(path)(params)


def test_an_index_error_elsewhere_gets_no_object_advice(tmp_path, capsys):
    # only a fault on an object key means "needs objects"; a plain bug is reported as it is
    path = reward_file(tmp_path, "def reward_function(params):\n    return params['waypoints'][10 ** 6][0]\n")
    assert check(path) == 2
    err = capsys.readouterr().err
    assert f"{path} line 2: reward_function raised IndexError" in err and "object" not in err


def test_a_stateful_function_really_needs_the_start_first(tmp_path):
    # the same function fails on a state after the start if it never saw steps == 1: what the order fixes
    reward = load_reward(reward_file(tmp_path, STATEFUL))
    with pytest.raises(RewardError, match="TypeError"):
        reward(validation_states(load_track("oval"))["valid"])
    assert math.isfinite(reward(validation_states(load_track("oval"))["start"]))
