"""A model's evaluations from the console, beyond starting them (test_console_tasks.py): cancelling a running
one (its process group stopped, the task read as cancelled), a race on a generated track, and the robustness
suite's score stored on the console's leaderboard. Real uvicorn, real `racekit` subprocesses, a tiny real run."""
import json
import os
import subprocess

import pytest

from racekit.console import processes
from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from racekit.leaderboard.db import open_board
from racekit.racing import file_sha256
from test_console_app import call
from test_console_tasks import FAST, wait_task


@pytest.fixture
def console(real_run, tmp_path):
    with BackgroundConsole(real_run, Jobs(real_run, max_trainings=1), tasks=Tasks(FAST),
                           db_path=tmp_path / "board.sqlite") as server:
        yield server.url


def task_record(real_run, task: str) -> dict:
    return json.loads((real_run / "tiny" / "tasks" / task / "task.json").read_text())


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_running_task_is_cancelled_and_says_so(console, real_run):
    status, started = call(f"{console}/api/run/robustness", {"id": "tiny"})
    assert status == 201
    task = started["task"]
    pid = task_record(real_run, task)["pid"]
    assert processes.alive(pid)
    status, cancelled = call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": task})
    assert status == 200 and cancelled["state"] == "cancelled", cancelled
    assert not processes.alive(pid) and group_gone(pid)
    assert task_record(real_run, task)["cancelled"] is True
    listed = {t["id"]: t for t in call(f"{console}/api/run/tasks?id=tiny")[1]["tasks"]}
    assert listed[task]["state"] == "cancelled" and listed[task]["error"] is None
    status, again = call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": task})
    assert status == 409 and "not running (cancelled)" in again["error"]
    # a new one of the same kind may start: the cancelled one no longer holds its place
    status, next_one = call(f"{console}/api/run/robustness", {"id": "tiny"})
    assert status == 201
    call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": next_one["task"]})


@pytest.mark.parametrize("body", [{"id": "tiny", "task": "20261206-000000-race"}, {"id": "tiny", "task": "../../x"},
                                  {"id": "tiny"}, {"id": "nothing", "task": "20261206-000000-race"}])
def test_cancelling_an_unknown_task_is_a_404(console, body):
    status, refused = call(f"{console}/api/run/task/cancel", body)
    assert status == 404 and "no such" in refused["error"]


def test_a_finished_task_and_a_stranger_process_are_not_cancelled(console, real_run):
    """A task that ended is a 409; so is one whose recorded pid the system gave to another process since
    (it is left alone)."""
    folder = real_run / "tiny" / "tasks" / "20261206-000000-robustness"
    folder.mkdir(parents=True)
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (folder / "task.json").write_text(json.dumps({"kind": "robustness", "pid": stranger.pid, "options": {}}))
        status, refused = call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": folder.name})
        assert status == 409 and "not running (failed)" in refused["error"], refused
        assert stranger.poll() is None  # not signalled
        (folder / "robustness.json").write_text(json.dumps({"score": 0.5, "clean_laps": 1, "laps": 2}))
        status, refused = call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": folder.name})
        assert status == 409 and "not running (done)" in refused["error"]
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_cancel_is_a_changing_request(console):
    """Like every other POST: a page elsewhere cannot send it (not JSON, or another site's Origin)."""
    body = json.dumps({"id": "tiny", "task": "20261206-000000-race"}).encode()
    assert call(f"{console}/api/run/task/cancel", headers={"Content-Type": "text/plain"}, raw=body)[0] == 415
    assert call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": "20261206-000000-race"},
                headers={"Origin": "http://elsewhere.example"})[0] == 403


def test_a_race_on_a_generated_track(console, real_run):
    status, started = call(f"{console}/api/run/race", {"id": "tiny", "track": "generated", "generated_seed": "7",
                                                       "laps": "1"})
    assert status == 201
    record = task_record(real_run, started["task"])
    command = record["command"]
    assert command[command.index("--track") + 1] == "generated:7" and record["options"]["track"] == "generated:7"
    call(f"{console}/api/run/task/cancel", {"id": "tiny", "task": started["task"]})
    status, refused = call(f"{console}/api/run/race", {"id": "tiny", "track": "generated", "generated_seed": "x"})
    assert status == 400 and refused["field"] == "generated_seed" and "seed" in refused["error"]


def test_the_robustness_suite_stores_its_score_on_the_leaderboard(console, real_run, tmp_path):
    status, started = call(f"{console}/api/run/robustness", {"id": "tiny"})
    assert status == 201
    done = wait_task(console, "tiny", started["task"])
    assert done["state"] == "done", done
    with open_board(tmp_path / "board.sqlite", create=False) as board:
        scores = board.suite_scores()
    assert scores == {file_sha256(real_run / "tiny" / "model.onnx"): pytest.approx(done["result"]["score"])}
    assert "stored the score with model" in (real_run / "tiny" / "tasks" / started["task"] / "output.log").read_text()
