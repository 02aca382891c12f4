"""`racekit tune`: a real Ray Tune search whose trials are real `racekit train` runs (no mock of either)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")

from racekit.agent.tune import SEARCH_SPACE, score  # noqa: E402
from racekit.cli import build_parser, main  # noqa: E402
from racekit.cli.train import new_run_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REWARD = REPO / "examples" / "rewards" / "speed_along_track.py"
# the trials take any train option after --: here DeepRacer Evo's sensors too (a dict observation per step)
TINY = ["--camera", "48x36", "--frame-stack", "1", "--envs", "2", "--eval-laps", "1", "--no-simtrace",
        "--sensor", "stereo-cameras", "--sensor", "lidar"]
SENSORS = ["stereo-cameras", "lidar"]


def ppo_of(config: dict) -> dict:
    p = config["ppo"]
    return {"--learning-rate": p["learning_rate"], "--entropy": p["entropy"], "--discount": p["gamma"],
            "--minibatch": p["minibatch"], "--epochs": p["epochs"], "--rollout-steps": p["rollout_steps"]}


def trainers_running(folder: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(folder) in line and "racekit" in line]


@pytest.mark.timeout(300)
def test_a_search_runs_each_trial_as_a_train_run_and_prints_the_line_that_reproduces_the_best(tmp_path):
    out = tmp_path / "tune"
    result = subprocess.run(
        [sys.executable, "-m", "racekit", "tune", "--track", "oval", "--reward", str(REWARD), "--trials", "2",
         "--minutes", "0.15", "--eval-every", "64", "--out", str(out), "--cpus-per-trial", "1", "--", *TINY],
        capture_output=True, text=True, timeout=280, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    trials = sorted(p for p in out.glob("trial-*") if p.is_dir())
    assert len(trials) == 2
    seen_settings = []
    for run in trials:  # each trial is an ordinary run directory with the trial's settings
        config = json.loads((run / "config.json").read_text())["run"]
        assert config["track"] == "oval" and config["camera_width"] == 48 and config["seed"] == 0
        assert config["sensors"] == SENSORS
        evaluations = [json.loads(x) for x in (run / "evaluations.jsonl").read_text().splitlines()]
        assert evaluations and (run / "checkpoints" / "last.pt").is_file()
        seen_settings.append(ppo_of(config))
    assert len({json.dumps(s, sort_keys=True) for s in seen_settings}) == 2  # two different proposals
    for flag, (kind, args) in SEARCH_SPACE.items():
        for settings in seen_settings:
            if kind == "choice":
                assert settings[flag] in args[0]
            else:
                assert args[0] * 0.99 <= settings[flag] <= args[1] * 1.01

    best_line = next(line for line in lines if line.startswith("best: score "))
    best_run = Path(best_line.rsplit(" run ", 1)[1])
    best_score = float(best_line.split()[2])
    scores = {run: max(score(json.loads(x)) for x in (run / "evaluations.jsonl").read_text().splitlines())
              for run in trials}
    # the best is the trial whose evaluations scored highest among those Tune saw (all of them, at most)
    assert best_run in scores and best_score == pytest.approx(scores[best_run], abs=0.05)
    assert best_score >= max(scores.values()) - 0.05 or "stopped early" in result.stdout

    # a trial is "stopped early" exactly when its trainer did not get to the end of its time budget
    row = re.compile(r"^\s*\S+\s+\d+\s+(ran its budget|stopped early|error)\s+(trial-\S+)")
    status = {m[2]: m[1] for m in map(row.match, lines) if m}
    assert sorted(status) == [run.name for run in trials]
    for run in trials:
        ran_out = "time budget reached at step" in run.with_suffix(".log").read_text()
        assert status[run.name] == ("ran its budget" if ran_out else "stopped early"), run.name

    # the printed line is a valid racekit train command with the best trial's settings
    reproduce = shlex.split(next(line for line in lines if line.startswith("reproduce: "))[len("reproduce: "):])
    assert reproduce[:2] == ["racekit", "train"]
    cfg = new_run_config(build_parser().parse_args(reproduce[1:]))
    best_config = json.loads((best_run / "config.json").read_text())["run"]
    assert ppo_of({"ppo": vars(cfg.ppo)}) == ppo_of(best_config)
    assert cfg.track == "oval" and cfg.camera_width == 48 and cfg.minutes == 0.15 and cfg.sensors == SENSORS
    assert trainers_running(out) == []  # no trial left a trainer behind


def test_bad_tune_options_are_one_line(tmp_path, capsys):
    reward = str(REWARD)
    cases = [
        (["--reward", reward, "--minutes", "0"], "--minutes must be more than 0, got 0"),
        (["--reward", str(tmp_path / "none.py"), "--minutes", "1"], "reward file not found: "),
        (["--reward", reward, "--minutes", "1", "--", "--learning-rate", "0.1"],
         "--learning-rate after -- is set by racekit tune itself"),
        (["--reward", reward, "--minutes", "1", "--", "--camera", "big"], "--camera must look like 640x480"),
    ]
    for args, message in cases:
        assert main(["tune", "--out", str(tmp_path / "t"), *args]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
        assert len(err) == 1 and message in err[0], err
    assert os.listdir(tmp_path) == []  # nothing written
