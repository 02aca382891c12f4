"""The expert driver laps every built-in track both ways, and reinvent_base; all DeepRacer tracks when slow."""
import numpy as np
import pytest

from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import ExpertDriver, drive_lap
from simtools import DEEPRACER_TRACKS
from racekit.tracks import builtin_track_names

needs_shared = pytest.mark.skipif(not DEEPRACER_TRACKS.is_dir(), reason="../shared/deepracer-tracks is not here")


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", builtin_track_names())
def test_expert_laps_every_builtin_track(name, reverse):
    env = TimeTrialEnv(track=name, reverse=reverse)
    result = drive_lap(env)
    assert result["termination"] == "lap_complete"
    average_speed = env.track.length / result["lap_time"]
    assert 1.5 < average_speed < 4.0  # racing, within the car's top speed
    env.close()


@needs_shared
def test_expert_laps_reinvent_base():
    env = TimeTrialEnv(track=str(DEEPRACER_TRACKS / "reinvent_base.npy"))
    result = drive_lap(env)
    assert result["termination"] == "lap_complete" and result["lap_time"] < 12.0
    env.close()


def test_expert_respects_its_speed_limit_and_is_slower_for_it():
    env = TimeTrialEnv()
    commanded = []
    slow = ExpertDriver(env, max_speed=1.5)
    result_slow = drive_lap(env, slow, on_step=lambda o, r, info: commanded.append(info["params"]["speed"]))
    result_fast = drive_lap(env)
    assert max(commanded) <= 1.5 + 1e-6
    assert result_slow["termination"] == result_fast["termination"] == "lap_complete"
    assert result_slow["lap_time"] > 1.3 * result_fast["lap_time"]
    env.close()


def test_expert_drives_discrete_envs_with_the_nearest_action():
    env = TimeTrialEnv(actions=[(s, v) for v in (1.0, 2.0) for s in (-30, -20, -10, 0, 10, 20, 30)])
    assert drive_lap(env)["termination"] == "lap_complete"
    env.close()


@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("path", sorted(DEEPRACER_TRACKS.glob("*.npy")), ids=lambda p: p.stem)
def test_expert_laps_every_deepracer_track(path):
    env = TimeTrialEnv(track=str(path))
    assert drive_lap(env)["termination"] == "lap_complete"
    env.close()
