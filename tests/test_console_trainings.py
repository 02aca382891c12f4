"""Trainings started by the console beyond the first slice's tests (test_console_app.py): Stop of a real training
that ignores Ctrl-C (a console or test run started in the background by a non-interactive shell), and a
queued training that waits through a restart of the console and then starts."""
import os
import signal
import time

import pytest

from racekit.console import processes
from racekit.console import runs as runs_module
from racekit.console.jobs import Jobs
from racekit.console.runs import LOG
from racekit.console.server import BackgroundConsole
from test_console_app import call, form, runs  # noqa: F401 - runs: the fixture
from test_console_runs import stand_in


@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_stop_stops_a_real_training_that_ignores_ctrl_c(tmp_path, monkeypatch):
    """A console (or test run) started in the background by a non-interactive shell ignores SIGINT, and so do
    the trainings it starts: Stop sends them SIGTERM, which racekit train takes as Ctrl-C (it keeps its
    checkpoint and says so), and the page shows the run stopped. Stop by SIGINT alone left such a run training."""
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    jobs = Jobs(root, max_trainings=1, extra_train_args=["--envs", "2", "--rollout-steps", "64", "--camera", "36x36",
                                                         "--eval-every", "100000", "--no-simtrace"])
    (root / "deaf").mkdir(parents=True)
    (root / "deaf" / "reward.py").write_text("def reward_function(params):\n    return 1.0\n")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell's background job
    try:
        assert jobs.submit("deaf", ["--track", "oval", "--minutes", "5", "--reward", str(root / "deaf" / "reward.py")]) \
            == "training"
    finally:
        signal.signal(signal.SIGINT, previous)
    process = jobs._started["deaf"].process
    try:
        assert processes.ignores_sigint(process.pid)
        deadline = time.monotonic() + 240
        while len(runs_module.metric_rows(root / "deaf")) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)  # its training loop runs (it has written an update)
        with BackgroundConsole(root, jobs) as server:
            status, stopped = call(f"{server.url}/api/run/stop", {"id": "deaf"})
            assert status == 200 and stopped["stopped"] == process.pid
            assert process.wait(120) == 130  # racekit train interrupted: its Ctrl-C exit code
            run = call(f"{server.url}/api/run?id=deaf")[1]
            assert run["state"] == "stopped" and run["can_resume"], run
            assert any(line.startswith("racekit: interrupted") for line in call(f"{server.url}/api/run/log?id=deaf")[1]["lines"])
    finally:
        process.kill()
        process.wait()


@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_a_queued_training_waits_through_a_restart_of_the_console(runs):
    """Queued while the one slot is taken, the console stopped and started again: the run is still queued, and
    the new console starts it once the slot is free."""
    busy = stand_in(runs, "group/old")
    tiny = ["--envs", "2", "--rollout-steps", "64", "--camera", "36x36", "--eval-every", "100000", "--no-simtrace"]
    try:
        with BackgroundConsole(runs, Jobs(runs, max_trainings=1, extra_train_args=tiny)) as server:
            status, made = call(f"{server.url}/api/trainings", form(name="waiting"))
            assert status == 201 and made["state"] == "queued"
        jobs = Jobs(runs, max_trainings=1, extra_train_args=tiny)
        with BackgroundConsole(runs, jobs) as server:
            assert call(f"{server.url}/api/run?id=waiting")[1]["state"] == "queued"
            busy.kill()
            busy.wait()
            deadline = time.monotonic() + 30
            while "waiting" not in jobs.live() and time.monotonic() < deadline:
                time.sleep(0.2)  # the console's queue pump runs every 2 s
            assert call(f"{server.url}/api/run?id=waiting")[1]["state"] == "training"
            assert (runs / "waiting" / LOG).read_text().startswith("$ racekit train --track oval")
            assert call(f"{server.url}/api/run/stop", {"id": "waiting"})[0] == 200
            jobs._started["waiting"].process.wait(120)
    finally:
        busy.kill()
        busy.wait()
        for pid in Jobs(runs).live().values():
            os.kill(pid, signal.SIGTERM)
