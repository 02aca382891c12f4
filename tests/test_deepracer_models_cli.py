"""An imported DeepRacer model is a racekit model like any other: it races onto the leaderboard, is analysed,
and the car runtime loads it, each through the command line on the real sample model, through DeepRacer's
camera and look."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from racekit.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared"
PB = SHARED / "deepracer-models" / "deepracer-utils-sample" / "model" / "model_48.pb"
WIDE = SHARED / "deepracer-tracks" / "reInvent2019_wide.npy"  # where it drives clean laps (bench/deepracer_models.py)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "dr-sample.onnx"
    assert main(["models", "import", str(PB), "-o", str(out)]) == 0
    return out


def test_it_races_onto_the_leaderboard_through_deepracers_camera(imported, tmp_path, capsys):
    db = tmp_path / "board.sqlite"
    assert main(["race", str(imported), "--track", str(WIDE), "--laps", "1", "--db", str(db), "--out",
                 str(tmp_path / "race"), "--video-size", "160x120"]) == 0
    with sqlite3.connect(db) as board:
        (model_sha, laps), = board.execute("SELECT model_sha256, lap_times FROM results").fetchall()
    assert model_sha == __import__("hashlib").sha256(imported.read_bytes()).hexdigest()
    assert len(json.loads(laps)) == 1
    capsys.readouterr()
    assert main(["leaderboard", "--db", str(db)]) == 0
    assert "dr-sample" in capsys.readouterr().out


def test_it_is_analysed_like_a_racekit_model(imported, tmp_path):
    report = tmp_path / "report.html"
    assert main(["analyze", str(imported), "--track", str(WIDE), "--laps", "1", "--points", "2", "--out",
                 str(report), "--quiet"]) == 0
    assert report.stat().st_size > 10_000


def test_the_car_runtime_loads_it_and_drives_deepracers_frames(imported):
    from racekit.hardware.model import load_policy
    from tests.deepracer_graphs import deepracer_frame

    policy = load_policy(str(imported))
    assert (policy.spec.camera.width, policy.spec.camera.height, policy.spec.camera.channels) == (160, 120, 1)
    table = {tuple(a) for a in json.loads(json.dumps(policy.spec.action_space.actions))}
    for picture in sorted((PB.parents[1] / "pictures").glob("*.png")):
        action = policy.act(deepracer_frame(picture)[None])
        assert tuple(round(a, 4) for a in action) in table  # one of its 12 actions, as DeepRacer's car would take
