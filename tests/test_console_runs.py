"""The console's view of run folders (racekit/console/runs.py, processes.py, forms.py): states read from the
files `racekit train` writes and from live processes, ids that never leave the runs folder, the create form's
fields refused by name. Run folders are written here as racekit train writes them (config.json, metrics.csv,
evaluations.jsonl, checkpoints/, the console's train.log); trainings are stand-in processes whose command
line is `racekit train --out DIR`, as a terminal's would be."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from racekit.agent.logbook import FIELDS
from racekit.console import pictures, processes
from racekit.console.forms import FieldError, action_list_json, training_options
from racekit.console.jobs import JobError, Jobs
from racekit.console.runs import (LOG, RunPathError, check_name, curves, find_runs, run_dir, run_info,
                                  seconds_trained)
from racekit.sim import DEEPRACER_ACTIONS


def write_run(folder: Path, steps=None, minutes=None, rows=(), evals=(), log=None, stop_when_clean=False,
              race_type="time-trial"):
    """A run folder as racekit train leaves it: rows are (global_step, wall_seconds)."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.pt").write_bytes(b"")
    (folder / "config.json").write_text(json.dumps({"run": {
        "track": "oval", "race_type": race_type, "algorithm": "ppo", "steps": steps, "minutes": minutes,
        "stop_when_clean": stop_when_clean}, "created": "2026-12-06T10:00:00Z"}))
    with open(folder / "metrics.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for i, (step, wall) in enumerate(rows):
            writer.writerow({"update": i + 1, "global_step": step, "wall_seconds": wall, "steps_per_second": 500,
                             "mean_return": 1.5 * i, "mean_progress": 10 + i, "best_lap_time": ""})
    (folder / "evaluations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    if log is not None:
        (folder / LOG).write_text(log)
    return folder


def evaluation(step, clean, mean_lap, completion=100.0):
    return {"global_step": step, "laps": 3, "clean_laps": clean, "completion": completion, "mean_lap_time": mean_lap,
            "best_lap_time": mean_lap and mean_lap - 0.1, "all_clean": clean == 3, "lap_times": []}


def test_runs_are_found_nested_and_other_folders_are_not(tmp_path):
    write_run(tmp_path / "a", steps=100)
    write_run(tmp_path / "group" / "b", steps=100)
    (tmp_path / "group" / "notes").mkdir()
    (tmp_path / ".hidden" / "c").mkdir(parents=True)
    (tmp_path / "only-log").mkdir()
    (tmp_path / "only-log" / LOG).write_text("racekit: error: piccolo2: no such track\n")
    assert find_runs(tmp_path) == ["a", "group/b", "only-log"]
    failed = run_info(tmp_path, "only-log")
    assert (failed.state, failed.reason) == ("failed", "piccolo2: no such track")


def test_states_from_the_files_alone(tmp_path):
    """A run started in a terminal has no train.log: its limits in config.json and its metrics decide."""
    steps = write_run(tmp_path / "steps", steps=2048, rows=[(1024, 2.0), (2048, 4.0)])
    short = write_run(tmp_path / "short", steps=4096, rows=[(1024, 2.0)])
    timed = write_run(tmp_path / "timed", minutes=1, rows=[(1024, 30.0), (2048, 58.5)])  # 2 s an update: done
    clean = write_run(tmp_path / "clean", minutes=60, rows=[(1024, 30.0)], stop_when_clean=True,
                      evals=[evaluation(1024, 3, 9.5)])
    assert [(run_info(tmp_path, p.name).state, run_info(tmp_path, p.name).reason) for p in (steps, short, timed, clean)] == [
        ("finished", "reached 2,048 steps"), ("stopped", "stopped"), ("finished", "trained its 1 minutes"),
        ("finished", "clean laps")]


def test_states_from_the_consoles_log(tmp_path):
    write_run(tmp_path / "done", minutes=5, rows=[(1024, 1.0)], log="$ racekit train\ndone: 1024 steps in x\n")
    write_run(tmp_path / "stopped", steps=10**6, rows=[(1024, 1.0)],
              log="racekit: interrupted; the last checkpoint is kept: x (step 1024); resume with: ...\n")
    write_run(tmp_path / "broken", steps=10**6, rows=[(1024, 1.0)],
              log="racekit: error: reward_function.py line 4: reward_function raised ZeroDivisionError\n"
                  "racekit: the last checkpoint is kept: ...\n")
    states = {name: run_info(tmp_path, name) for name in ("done", "stopped", "broken")}
    assert {n: i.state for n, i in states.items()} == {"done": "finished", "stopped": "stopped", "broken": "failed"}
    assert "line 4" in states["broken"].reason
    # resumed from a terminal after the console's session: the log is old, the files decide
    old = time.time() - 600
    os.utime(tmp_path / "done" / LOG, (old, old))
    assert run_info(tmp_path, "done").reason == "stopped"


def test_what_the_models_page_shows(tmp_path):
    write_run(tmp_path / "r", steps=10**6, rows=[(1024, 10.0), (2048, 20.0), (3072, 5.0), (4096, 7.5)],
              evals=[evaluation(2048, 1, None, 60.0), evaluation(3072, 3, 9.8), evaluation(4096, 3, 9.1)])
    info = run_info(tmp_path, "r", pid=4242)
    assert (info.state, info.reason, info.track, info.steps, info.evaluations) == ("training", "process 4242", "oval",
                                                                                   4096, 3)
    assert info.seconds_trained == 27.5  # 20 s, then a resumed session of 7.5 s
    assert info.best["global_step"] == 4096 and info.best["clean_laps"] == 3
    assert run_info(tmp_path, "r", queued=True).state == "queued"
    drawn = curves(tmp_path / "r", max_points=3)
    assert drawn["step"] == [1024, 3072, 4096] and drawn["reward"] == [0.0, 3.0, 4.5]
    assert [e["mean_lap_time"] for e in drawn["evaluations"]] == [None, 9.8, 9.1]
    assert seconds_trained([]) == 0.0


def test_the_best_shown_is_the_checkpoint_racekit_train_keeps(tmp_path):
    """A time trial's best is the faster of two clean evaluations, a race with bots' the later (agent/logbook.py)."""
    evals = [evaluation(2048, 2, 9.0), evaluation(3072, 3, 9.1), evaluation(4096, 3, 9.8)]
    for race_type, step in (("time-trial", 3072), ("head-to-bot", 4096)):
        write_run(tmp_path / race_type, steps=10**6, rows=[(4096, 7.5)], evals=evals, race_type=race_type)
        assert run_info(tmp_path, race_type).best["global_step"] == step


def test_a_half_written_last_row_is_left_for_later(tmp_path):
    folder = write_run(tmp_path / "r", steps=10**6, rows=[(1024, 1.0)], evals=[evaluation(1024, 0, None)])
    with open(folder / "metrics.csv", "a") as fh:
        fh.write("2,2048,2.0,5")
    with open(folder / "evaluations.jsonl", "a") as fh:
        fh.write('{"global_step": 20')
    info = run_info(tmp_path, "r")
    assert info.steps == 1024 and info.evaluations == 1


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/../../b", "a//b", "", ".", "..", "a b", "x\x00y", "ü", "a/b/c/d"])
def test_run_ids_from_a_page_stay_in_the_runs_folder(tmp_path, bad):
    with pytest.raises(RunPathError):
        run_dir(tmp_path, bad)


def test_a_link_out_of_the_runs_folder_is_refused(tmp_path):
    outside = write_run(tmp_path / "outside", steps=1)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "sneaky").symlink_to(outside)
    with pytest.raises(RunPathError, match="outside the runs folder"):
        run_dir(tmp_path / "runs", "sneaky")


@pytest.mark.parametrize("name", ["runs/x", "../x", "/tmp/x", "a b", "-x", ".", "x" * 65, "naïve", "a\u200bb"])
def test_names_that_are_paths_or_odd_are_refused(name):
    with pytest.raises(ValueError, match="name"):
        check_name(name)


def form(**changes):
    base = {"name": "my-model", "track": "oval", "race_type": "time-trial", "algorithm": "ppo", "steering_low": "-30",
            "steering_high": "30", "speed_low": "0.5", "speed_high": "4", "minutes": "2",
            "reward": "def reward_function(params):\n    return 1.0\n"}
    return {**base, **changes}


def test_the_create_form_makes_train_options_and_names_a_bad_field(tmp_path):
    name, reward, argv = training_options(form(), tmp_path)
    assert name == "my-model" and reward.startswith("def reward_function")
    assert argv == ["--track", "oval", "--race-type", "time-trial", "--algorithm", "ppo", "--sensor", "front-camera",
                    "--steering-range", "-30", "30", "--speed-range", "0.5", "4", "--minutes", "2"]
    (tmp_path / "taken").mkdir()
    for changes, field in (({"name": "a/b"}, "name"), ({"name": "taken"}, "name"), ({"track": "../x"}, "track"),
                           ({"track": "generated:x"}, "track"), ({"track": "deepracer:../../etc/passwd"}, "track"),
                           ({"direction": "sideways"}, "direction"),
                           ({"race_type": "drag"}, "race_type"), ({"algorithm": "dqn"}, "algorithm"),
                           ({"race_type": "object-avoidance", "objects": "0"}, "objects"),
                           ({"race_type": "head-to-bot", "bots": "2.5"}, "bots"),
                           ({"race_type": "head-to-bot", "bot_speed": "0"}, "bot_speed"),
                           ({"camera": "rear-camera"}, "camera"), ({"lidar": "radar"}, "lidar"),
                           ({"algorithm": "sac", "lidar": "lidar"}, "lidar"),
                           ({"lidar": "discretized-sector-lidar", "lidar_sectors": "3"}, "lidar_sectors"),
                           ({"steering_low": "x"}, "steering_low"), ({"steering_low": "10", "steering_high": "-10"},
                                                                     "steering_high"),
                           ({"speed_high": "9"}, "speed_high"), ({"speed_low": "nan"}, "speed_low"),
                           ({"action_type": "discrete", "actions": [{"steering": 0, "speed": 1}]}, "actions"),
                           ({"action_type": "discrete", "actions": [{"steering": 40, "speed": 1}] * 2}, "actions"),
                           ({"action_type": "discrete", "actions": [{"steering": 0, "speed": 1}] * 2}, "actions"),
                           ({"action_type": "discrete", "algorithm": "sac"}, "action_type"),
                           ({"randomize": "wild"}, "randomize"), ({"minutes": "0"}, "minutes"),
                           ({"learning_rate": "1"}, "learning_rate"), ({"epochs": "2.5"}, "epochs"),
                           ({"algorithm": "sac", "entropy": "0.02"}, "entropy"), ({"replay_ratio": "0.5"}, "replay_ratio"),
                           ({"reward": "  "}, "reward")):
        with pytest.raises(FieldError) as caught:
            training_options(form(**changes), tmp_path)
        assert caught.value.field == field, changes


def test_the_algorithms_settings_left_empty_keep_racekit_trains_defaults(tmp_path):
    assert "--learning-rate" not in training_options(form(learning_rate="", entropy=""), tmp_path)[2]
    argv = training_options(form(learning_rate="1e-4", discount="0.98", entropy="0.02", epochs="3", minibatch="128"),
                            tmp_path)[2]
    assert argv[argv.index("--algorithm"):argv.index("--sensor")] == [
        "--algorithm", "ppo", "--learning-rate", "0.0001", "--discount", "0.98", "--entropy", "0.02", "--epochs", "3",
        "--minibatch", "128"]
    argv = training_options(form(algorithm="sac", replay_ratio="0.5", minibatch="64"), tmp_path)[2]
    assert "--replay-ratio" in argv and argv[argv.index("--minibatch") + 1] == "64"


def test_the_create_forms_settings_become_train_options(tmp_path):
    defaults = [{"steering": steer, "speed": speed} for steer, speed in DEEPRACER_ACTIONS]
    argv = training_options(form(track="generated:7", direction="both", race_type="head-to-bot", bots="2",
                                 bot_speed="0.5", lane_changes=True, camera="stereo-cameras",
                                 lidar="discretized-sector-lidar", lidar_sectors="16", lidar_values="4",
                                 lidar_clip="1.5", action_type="discrete", actions=defaults, randomize="default"),
                            tmp_path)[2]
    assert argv == ["--track", "generated:7", "--alternate-direction", "--race-type", "head-to-bot", "--bots", "2",
                    "--bot-speed", "0.5", "--lane-changes", "--algorithm", "ppo", "--sensor", "stereo-cameras",
                    "--sensor", "discretized-sector-lidar", "--lidar-sectors", "16", "--lidar-values", "4",
                    "--lidar-clip", "1.5", "--discrete", "--randomize", "default", "--minutes", "2"]
    argv = training_options(form(name="own", action_type="discrete", actions=defaults[:-1]), tmp_path)[2]
    assert argv[argv.index("--actions") + 1] == str(tmp_path / "own" / "actions.json")  # a list of one's own
    assert json.loads(action_list_json(form(action_type="discrete", actions=defaults[:-1])))[-1] == {
        "steering_angle": DEEPRACER_ACTIONS[-2][0], "speed": DEEPRACER_ACTIONS[-2][1], "index": 8}


@pytest.mark.skipif(pictures.deepracer_folder() is None, reason="needs ../shared/deepracer-tracks")
def test_deepracer_tracks_are_offered_where_their_folder_is(tmp_path):
    listed = pictures.deepracer_tracks()
    assert listed and all(not t["name"].endswith(("_cw", "_ccw")) for t in listed)
    argv = training_options(form(track=listed[0]["id"]), tmp_path)[2]
    assert argv[1] == str(pictures.deepracer_folder() / f"{listed[0]['name']}.npy")


def stand_in(root: Path, out: str, fork: bool = False, ignore_sigint: bool = False) -> subprocess.Popen:
    """A process whose command line is a `racekit train --out OUT` one (a terminal's training); fork: with a
    forked child carrying the same command line, as rollout workers do; ignore_sigint: as a program started
    in the background by a non-interactive shell."""
    worker = ("me = os.getpid()\nif os.fork() == 0:\n    while os.getppid() == me:\n        time.sleep(0.05)\n"
              "    os._exit(0)\n")  # a worker ends with its training
    code = ("import os, signal, time\n" + (worker if fork else "")
            + ("signal.signal(signal.SIGINT, signal.SIG_IGN)\n" if ignore_sigint else "")
            + "print('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, "racekit", "train", "--out", out], cwd=root,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"  # Python has started: a Ctrl-C now is a KeyboardInterrupt
    return proc


@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_a_training_that_ignores_ctrl_c_is_stopped_with_sigterm(tmp_path):
    """Started in the background by a non-interactive shell (`... &` in a script, a test suite run that way),
    a program ignores SIGINT and its children inherit it: Stop must still stop it."""
    write_run(tmp_path / "deaf", steps=10**6, rows=[(1024, 1.0)])
    proc = stand_in(tmp_path, "deaf", ignore_sigint=True)
    try:
        assert processes.ignores_sigint(proc.pid) and not processes.ignores_sigint(os.getpid())
        assert Jobs(tmp_path).stop("deaf") == proc.pid
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_a_training_started_elsewhere_is_seen_and_stopped(tmp_path):
    write_run(tmp_path / "mine", steps=10**6, rows=[(1024, 1.0)])
    proc = stand_in(tmp_path, "mine", fork=True)
    try:
        jobs = Jobs(tmp_path, max_trainings=1)
        assert jobs.live() == {"mine": proc.pid}  # the training, not its forked worker
        assert jobs.submit("next", ["--track", "oval"]) == "queued"  # the one slot is taken
        assert jobs.queued() == ["next"] and jobs.stop("next") == 0 and jobs.queued() == []
        assert jobs.stop("mine") == proc.pid
        assert proc.wait(10) == -signal.SIGINT
        deadline = time.monotonic() + 10
        while jobs.live() and time.monotonic() < deadline:  # its forked child ends on its own
            time.sleep(0.05)
        with pytest.raises(JobError, match="not training"):
            jobs.stop("mine")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_the_queue_is_kept_in_the_run_folders(tmp_path):
    """Queued trainings are RUN/queued.json files: another Jobs (a console started again) sees them in order,
    a second console cannot start one twice, and one taken off the queue is left as stopped, never started."""
    write_run(tmp_path / "busy", steps=10**6, rows=[(1024, 1.0)])
    proc = stand_in(tmp_path, "busy")
    try:
        first = Jobs(tmp_path, max_trainings=1)
        assert first.submit("a", ["--track", "oval"]) == "queued"
        assert first.submit("group/b", ["--track", "piccolo"]) == "queued"
        with pytest.raises(JobError, match="already queued"):
            first.submit("a", ["--track", "oval"])
        again = Jobs(tmp_path, max_trainings=1)  # the console started again
        assert again.queued() == ["a", "group/b"]
        assert [job.argv for job in again._queue()] == [["--track", "oval"], ["--track", "piccolo"]]
        assert sorted(find_runs(tmp_path)) == ["a", "busy", "group/b"]
        assert run_info(tmp_path, "a", queued=True).state == "queued"
        assert again._take("a") and not first._take("a")  # one console takes it, the other finds it gone
        assert first.queued() == ["group/b"] and again.stop("group/b") == 0 and first.queued() == []
        (tmp_path / "group" / "b" / "submitted_reward.py").write_text("def reward_function(params):\n    return 1.0\n")
        info = run_info(tmp_path, "group/b")
        assert (info.state, info.reason) == ("stopped", "taken off the queue before it started")
    finally:
        proc.kill()
        proc.wait()
