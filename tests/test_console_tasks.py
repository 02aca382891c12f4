"""A model's evaluations from the console (racekit/console/tasks.py, api_tasks.py), through a real uvicorn and
real `racekit` subprocesses on a tiny real run: a race (its results table from the leaderboard, replay video
and track map), the robustness suite (its picture and score), the analysis (its report); progress while
they run, bad fields refused by name, one task of a kind at a time, and the same tasks seen by a console
started again."""
import time

import pytest

from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from test_console_app import call

# a small replay video; the robustness suite runs whole (its score goes on the leaderboard, which takes only
# a whole suite's: racekit evaluate refuses --db with --conditions), some seconds for the tiny run
FAST = {"race": ["--video-size", "160x120"]}
TASK_WAIT = 240.0  # a subprocess's start and its work on a busy 2-core machine


def wait_task(url: str, run_id: str, task: str, seen: list | None = None) -> dict:
    """The task once it has ended; `seen` collects the states and progress it showed meanwhile."""
    deadline = time.monotonic() + TASK_WAIT
    while time.monotonic() < deadline:
        found = {t["id"]: t for t in call(f"{url}/api/run/tasks?id={run_id}")[1]["tasks"]}[task]
        if seen is not None:
            seen.append((found["state"], found["progress"]))
        if found["state"] != "running":
            return found
        time.sleep(0.3)
    raise AssertionError(f"task {task} still running after {TASK_WAIT:g} s: {found}")


@pytest.fixture
def console(real_run, tmp_path):
    tasks = Tasks(FAST)
    with BackgroundConsole(real_run, Jobs(real_run, max_trainings=1), tasks=tasks,
                           db_path=tmp_path / "board.sqlite") as server:
        yield server.url, tasks


def test_a_race_from_the_page_has_its_results_replay_and_map(console, real_run, tmp_path):
    url, _ = console
    status, started = call(f"{url}/api/run/race", {"id": "tiny", "track": "oval", "direction": "reverse",
                                                    "laps": "1", "race_type": "time-trial"})
    assert status == 201 and started["id"] == "tiny"
    task = started["task"]
    status, again = call(f"{url}/api/run/race", {"id": "tiny", "laps": "1"})
    assert status == 409 and "runs already" in again["error"]
    seen = []
    done = wait_task(url, "tiny", task, seen)
    assert seen[0][0] == "running" and done["state"] == "done", done
    result = done["result"]
    assert (result["track"], result["direction"], result["laps_planned"], result["racer"]) == (
        "oval", "reverse", 1, "tiny")
    assert len(result["lap_times"]) + result["dnf"] >= 1 and result["offtracks"] >= 0 and result["crashes"] == 0
    assert result["completion"] in (0.0, 100.0)
    assert done["options"]["laps"] == 1 and done["options"]["direction"] == "reverse"
    assert done["files"] == {"replay.mp4": True, "map.png": True}
    status, video = call(f"{url}/api/run/task/file?id=tiny&task={task}&name=replay.mp4")
    assert status == 200 and video[4:8] == b"ftyp"
    status, picture = call(f"{url}/api/run/task/file?id=tiny&task={task}&name=map.png")
    assert status == 200 and picture[:4] == b"\x89PNG"
    boards = call(f"{url}/api/boards")[1]  # the leaderboard inside the console has the race
    assert "tiny" in str(boards)
    assert (real_run / "tiny" / "tasks" / task / "output.log").read_text().count("stored as result #") == 1


def test_the_robustness_suite_and_the_analysis(console):
    url, _ = console
    status, suite = call(f"{url}/api/run/robustness", {"id": "tiny"})
    assert status == 201
    status, analysis = call(f"{url}/api/run/analysis", {"id": "tiny"})
    assert status == 201
    done = wait_task(url, "tiny", suite["task"])
    assert done["state"] == "done" and done["result"]["laps"] >= 18 and 0 <= done["result"]["score"] <= 1, done
    status, picture = call(f"{url}/api/run/task/file?id=tiny&task={suite['task']}&name=robustness.png")
    assert status == 200 and picture[:4] == b"\x89PNG"
    done = wait_task(url, "tiny", analysis["task"])
    assert done["state"] == "done" and done["files"] == {"report.html": True}, done
    status, report = call(f"{url}/api/run/task/file?id=tiny&task={analysis['task']}&name=report.html")
    assert status == 200 and b"<html" in report[:500].lower()


@pytest.mark.parametrize("changes, field", [({"laps": "0"}, "laps"), ({"laps": "2.5"}, "laps"),
                                            ({"track": "../x"}, "track"), ({"direction": "sideways"}, "direction"),
                                            ({"race_type": "drag"}, "race_type"),
                                            ({"race_type": "object-avoidance", "objects": "11"}, "objects"),
                                            ({"race_type": "head-to-bot", "bot_speed": "9"}, "bot_speed")])
def test_a_bad_race_field_is_refused_by_name(console, real_run, changes, field):
    url, _ = console
    status, refused = call(f"{url}/api/run/race", {"id": "tiny", **changes})
    assert status == 400 and refused["field"] == field and refused["error"]
    assert call(f"{url}/api/run/tasks?id=tiny")[0] == 200


@pytest.mark.parametrize("path", ["/api/run/tasks?id=nothing", "/api/run/task/file?id=tiny&task=../../x&name=map.png",
                                  "/api/run/task/file?id=tiny&task=20261206-000000-race&name=map.png",
                                  "/api/run/task/file?id=tiny&task=20261206-000000-race&name=../config.json"])
def test_unknown_tasks_and_files_are_refused(console, path):
    url, _ = console
    assert call(url + path)[0] == 404


def test_a_console_started_again_shows_the_same_tasks(console, real_run, tmp_path):
    url, _ = console
    status, started = call(f"{url}/api/run/analysis", {"id": "tiny"})
    first = wait_task(url, "tiny", started["task"])
    with BackgroundConsole(real_run, Jobs(real_run), tasks=Tasks(), db_path=tmp_path / "board.sqlite") as again:
        listed = {t["id"]: t for t in call(f"{again.url}/api/run/tasks?id=tiny")[1]["tasks"]}
    assert listed[started["task"]] == first
