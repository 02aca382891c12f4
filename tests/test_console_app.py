"""`racekit console`'s app over HTTP (a real uvicorn on an ephemeral port; starlette's TestClient needs httpx,
which racekit does not install): the models list, a run's curves and log, Validate through `racekit reward
check` with the error's line, the create form (queued when the slots are taken), stop and delete, the
leaderboard inside, and who may ask: the local rules on 127.0.0.1, the token off it."""
import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from racekit.cli import main
from racekit.console import processes
from racekit.console.jobs import Jobs
from racekit.console.runs import LOG, SUBMITTED_REWARD
from racekit.console.security import TokenRequired, check_bind
from racekit.console.server import BackgroundConsole
from test_console_runs import evaluation, stand_in, write_run

TOKEN = "a-long-secret-token"


def call(url, body=None, headers=None, method=None, raw=None):
    """(status, JSON or bytes) of a request; a body is sent as JSON."""
    sent = {"Content-Type": "application/json"} if body is not None else {}
    sent.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload, kind = response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        status, payload, kind = exc.code, exc.read(), exc.headers.get("content-type", "")
    return status, json.loads(payload) if kind.startswith("application/json") else payload


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    write_run(root / "done", steps=2048, rows=[(1024, 2.0), (2048, 4.0)],
              evals=[evaluation(1024, 1, None, 70.0), evaluation(2048, 3, 9.4)], log="done: 2048 steps\n")
    write_run(root / "group" / "old", steps=10**6, rows=[(1024, 2.0)])
    return root


@pytest.fixture
def console(runs):
    with BackgroundConsole(runs, Jobs(runs, max_trainings=1)) as server:
        yield server.url


def test_models_a_run_and_its_picture(console):
    status, data = call(f"{console}/api/runs")
    assert status == 200 and data["max_trainings"] == 1
    got = {r["id"]: (r["state"], r["track"], r["best"] and r["best"]["clean_laps"]) for r in data["runs"]}
    assert got == {"done": ("finished", "oval", 3), "group/old": ("stopped", "oval", None)}
    status, run = call(f"{console}/api/run?id=group/old")
    assert status == 200 and run["can_resume"] and run["seconds_trained"] == 2.0
    status, drawn = call(f"{console}/api/run/curves?id=done")
    assert drawn["step"] == [1024, 2048] and [e["mean_lap_time"] for e in drawn["evaluations"]] == [None, 9.4]
    assert call(f"{console}/api/run/log?id=done")[1] == {"lines": ["done: 2048 steps"]}
    status, png = call(f"{console}/api/run/track.png?id=done")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, tracks = call(f"{console}/api/tracks")
    assert "piccolo" in [t["name"] for t in tracks["tracks"]] and "head-to-bot" in tracks["race_types"]
    assert call(f"{console}/api/track.png?name=oval")[1][:4] == b"\x89PNG"
    assert "centre_line_speed.py" in call(f"{console}/api/examples")[1]["examples"]
    for path in ("/", "/assets/console.js", "/assets/console.css", "/leaderboard", "/static/board.js",
                 "/api/boards"):
        assert call(console + path)[0] == 200, path


@pytest.mark.parametrize("path", ["/api/run?id=../runs", "/api/run?id=/etc", "/api/run/log?id=..%2F..%2Fetc",
                                  "/api/run/curves?id=nothing-here", "/api/track.png?name=../../x",
                                  "/api/run/model.onnx?id=done", "/assets/../app.py", "/assets/app.py"])
def test_paths_from_the_page_stay_in_the_runs_folder(console, path):
    assert call(console + path)[0] == 404


def test_a_run_whose_track_file_is_gone_has_no_picture(console, runs):
    config = json.loads((runs / "done" / "config.json").read_text())
    config["run"]["track"] = str(runs / "moved-away.npy")
    (runs / "done" / "config.json").write_text(json.dumps(config))
    status, refused = call(f"{console}/api/run/track.png?id=done")
    assert status == 404 and "moved-away.npy" in refused["error"]
    assert call(f"{console}/api/runs")[0] == 200


def test_validate_names_the_line_of_a_syntax_error_and_passes_a_fixed_file(console):
    broken = "def reward_function(params):\n    x = 1\n    return x +\n"
    status, verdict = call(f"{console}/api/reward/check", {"code": broken, "track": "oval",
                                                            "race_type": "time-trial"})
    assert status == 200 and verdict["ok"] is False and verdict["line"] == 3
    assert verdict["error"].startswith("reward_function.py line 3: syntax error")
    status, verdict = call(f"{console}/api/reward/check", {"code": "x = 1\n", "track": "piccolo"})
    assert verdict["ok"] is False and "reward_function" in verdict["error"]
    status, refused = call(f"{console}/api/reward/check", {"code": broken, "track": "../x"})
    assert status == 400 and refused["field"] == "track"


def form(**changes):
    base = {"name": "first", "track": "oval", "race_type": "time-trial", "algorithm": "ppo", "steering_low": "-30",
            "steering_high": "30", "speed_low": "0.5", "speed_high": "3", "minutes": "1",
            "reward": "def reward_function(params):\n    return 1.0\n"}
    return {**base, **changes}


@pytest.mark.parametrize("changes, field", [({"name": "../evil"}, "name"), ({"name": "a/b"}, "name"),
                                            ({"name": "done"}, "name"), ({"name": "sp ace"}, "name"),
                                            ({"speed_low": "3", "speed_high": "1"}, "speed_high"),
                                            ({"track": "/etc/passwd"}, "track"), ({"minutes": "-1"}, "minutes")])
def test_create_refuses_a_bad_field_by_name_and_writes_nothing(console, runs, changes, field):
    status, refused = call(f"{console}/api/trainings", form(**changes))
    assert status == 400 and refused["field"] == field and refused["error"]
    assert sorted(p.name for p in runs.iterdir()) == ["done", "group"]
    assert not (runs.parent / "evil").exists()


@pytest.mark.skipif(not processes.PROC.is_dir(), reason="reads /proc")
def test_queued_beyond_the_limit_and_a_training_run_is_not_deleted(console, runs):
    busy = stand_in(runs, "group/old")  # a training started from a terminal takes the one slot
    try:
        status, made = call(f"{console}/api/trainings", form())
        assert status == 201 and made == {"id": "first", "state": "queued"}
        assert (runs / "first" / SUBMITTED_REWARD).read_text().startswith("def reward_function")
        states = {r["id"]: r["state"] for r in call(f"{console}/api/runs")[1]["runs"]}
        assert states == {"done": "finished", "group/old": "training", "first": "queued"}
        status, refused = call(f"{console}/api/run/delete", {"id": "group/old", "confirm": "group/old"})
        assert status == 409 and "training" in refused["error"]
        assert call(f"{console}/api/run/stop", {"id": "first"})[1]["stopped"] == "taken off the queue"
        status, stopped = call(f"{console}/api/run/stop", {"id": "group/old"})
        assert status == 200 and stopped["stopped"] == busy.pid and busy.wait(10) == -signal.SIGINT
        status, again = call(f"{console}/api/run/stop", {"id": "group/old"})  # a second browser's Stop
        assert status == 409 and "not training" in again["error"]
    finally:
        busy.kill()
        busy.wait()
    assert call(f"{console}/api/run?id=group/old")[1]["state"] == "stopped"
    assert not (runs / "first" / LOG).exists()  # never started


def test_delete_needs_the_confirmation(console, runs):
    status, refused = call(f"{console}/api/run/delete", {"id": "done"})
    assert status == 400 and refused["field"] == "confirm" and (runs / "done").is_dir()
    assert call(f"{console}/api/run/delete", {"id": "done", "confirm": "done"}) == (200, {"id": "done", "deleted": True})
    assert not (runs / "done").exists() and call(f"{console}/api/run?id=done")[0] == 404


def test_local_rules_other_sites_and_other_host_names_are_refused(console):
    assert call(f"{console}/api/runs", headers={"Host": "attacker.example:8000"})[0] == 403  # DNS rebinding
    status, _ = call(f"{console}/api/run/delete", {"id": "done", "confirm": "done"},
                     headers={"Origin": "http://attacker.example"})
    assert status == 403
    status, _ = call(f"{console}/api/run/delete", raw=b'{"id": "done", "confirm": "done"}',
                     headers={"Content-Type": "text/plain"})  # a form another page could send without asking
    assert status == 415
    assert call(f"{console}/api/runs")[0] == 200


def test_a_token_is_needed_for_every_request_and_the_login_sets_it(runs):
    with BackgroundConsole(runs, Jobs(runs), token=TOKEN) as server:
        url = server.url
        assert call(f"{url}/api/runs")[0] == 401
        assert call(f"{url}/api/runs", headers={"Authorization": "Bearer wrong-token-here"})[0] == 401
        assert call(f"{url}/api/run/delete", {"id": "done", "confirm": "done"})[0] == 401
        status, page = call(f"{url}/", headers={"Accept": "text/html"})
        assert status == 401 and b"token" in page
        assert call(f"{url}/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert call(f"{url}/api/session", method="POST", headers={"Authorization": "Bearer nope"})[0] == 401
        request = urllib.request.Request(f"{url}/api/session", method="POST",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert call(f"{url}/api/runs", headers={"Cookie": cookie.split(";")[0]})[0] == 200
        status, _ = call(f"{url}/api/run/delete", {"id": "done", "confirm": "done"},
                         headers={"Cookie": cookie.split(";")[0], "Origin": "http://attacker.example"})
        assert status == 403 and (runs / "done").is_dir()


def test_no_token_no_network_bind(tmp_path, capsys):
    with pytest.raises(TokenRequired, match="--token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(TokenRequired, match="12 characters"):
        check_bind("0.0.0.0", "short")
    check_bind("127.0.0.1", None)
    assert main(["console", "--runs", str(tmp_path), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--token" in capsys.readouterr().err
    assert main(["console", "--runs", str(tmp_path), "--max-trainings", "0"]) == 2


def test_the_console_command_serves_until_ctrl_c(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "racekit", "console", "--runs", str(tmp_path / "runs"), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        url = re.match(r"racekit console on (http://localhost:\d+/) ", line).group(1)
        assert call(url, headers={"Accept": "text/html"})[1].startswith(b"<!doctype html>")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0


def test_a_real_run_is_read_exported_downloaded_and_resumed(real_run, tmp_path, monkeypatch):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    jobs = Jobs(real_run, max_trainings=1)
    with BackgroundConsole(real_run, jobs) as server:
        url = server.url
        status, run = call(f"{url}/api/run?id=tiny")
        assert (run["state"], run["reason"], run["steps"], run["track"]) == ("finished", "reached 256 steps", 256, "oval")
        assert run["evaluations"] == 1 and run["best"]["laps"] == 3 and run["can_resume"]
        assert call(f"{url}/api/run/curves?id=tiny")[1]["step"] == [256]  # one update of 2 envs x 128 steps
        status, exported = call(f"{url}/api/run/export", {"id": "tiny"})
        assert status == 200 and exported["model"] == "/api/run/model.onnx?id=tiny"
        status, model = call(url + exported["model"])
        assert status == 200 and model == (real_run / "tiny" / "model.onnx").read_bytes() and len(model) > 10000

        status, resumed = call(f"{url}/api/run/resume", {"id": "tiny", "minutes": "0.2"})
        assert status == 200 and resumed["state"] == "training"
        jobs._started["tiny"].process.wait(120)  # its steps are done: it ends at once, after its start-up
        status, run = call(f"{url}/api/run?id=tiny")
        assert run["state"] == "finished" and run["reason"].startswith("done: 256 steps")
        log = call(f"{url}/api/run/log?id=tiny")[1]["lines"]
        assert log[0].startswith("$ racekit train --resume --minutes 0.2") and any(
            line.startswith("done: 256 steps") for line in log)

