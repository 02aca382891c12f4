"""The leaderboard's web page: its JSON and files over HTTP, `racekit leaderboard serve` as a process, and
the page in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium): one board
per track, a click opens the run's replay video (which plays) and its track map.
Saves tests/artifacts/leaderboard.png (the boards) and leaderboard-replay.png (a replay open)."""
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser_helpers import ARTIFACTS, WAIT, chromium, needs_chromium
from race_helpers import constant_model
from racekit.cli import main
from racekit.leaderboard.db import Contact, Heat, Leaderboard, Run
from racekit.leaderboard.web import BackgroundServer

VIDEO = (240, 180)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A leaderboard with two simulated races (one a DNF) and hand-timed runs on two tracks."""
    folder = tmp_path_factory.mktemp("web")
    db = str(folder / "board.sqlite")
    model = constant_model(folder / "straight.onnx")
    size = f"{VIDEO[0]}x{VIDEO[1]}"
    assert main(["race", str(model), "--track", "oval", "--laps", "1", "--name", "straight-liner", "--db", db,
                 "--video-size", size]) == 0
    assert main(["race", str(model), "--track", "oval", "--laps", "1", "--name", "gave-up", "--max-resets", "1",
                 "--db", db, "--video-size", size]) == 0
    for name, track, laps in (("alice", "oval", "9.8,10.1,9.9"), ("<b>bob</b>", "oval", "9.5,9.6"),
                              ("carol", "piccolo", "15,14.5,14.8")):
        assert main(["leaderboard", "add", "--physical", "--track", track, "--name", name, "--laps", laps,
                     "--db", db]) == 0
    return Path(db)


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_json_and_the_files_over_http(board):
    with BackgroundServer(board) as server:
        status, _, body = get(f"{server.url}/api/boards")
        data = json.loads(body)
        assert status == 200 and data["rank"] == "average" and data["laps"] == 3
        assert [b["key"] for b in data["boards"]] == ["sim/oval/forward", "physical/oval/forward",
                                                      "physical/piccolo/forward"]
        sim = data["boards"][0]["entries"]
        assert [(e["racer"], e["position"], e["reason"]) for e in sim] == [
            ("straight-liner", None, "1 of 3 laps"), ("gave-up", None, "DNF (too many resets)")]
        assert sim[0]["video"] == "/runs/1/replay.mp4" and sim[0]["map"] == "/runs/1/map.png"
        assert data["boards"][1]["entries"][0]["video"] is None  # a hand-timed run has no replay
        by_lap = json.loads(get(f"{server.url}/api/boards?rank=best-lap")[2])
        assert by_lap["laps"] == 1 and by_lap["boards"][0]["entries"][0]["position"] == 1

        status, headers, body = get(f"{server.url}/runs/1/replay.mp4", {"Range": "bytes=0-99"})
        assert status == 206 and len(body) == 100 and headers["content-type"] == "video/mp4"
        status, headers, body = get(f"{server.url}/runs/1/map.png")
        assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
        for path, code in (("/runs/3/replay.mp4", 404), ("/runs/99/map.png", 404), ("/static/../db.py", 404),
                           ("/static/other.js", 404), ("/api/boards?rank=fastest", 400),
                           ("/api/boards?laps=0", 400), ("/api/boards?laps=x", 400)):
            assert get(server.url + path)[0] == code, path
        status, headers, body = get(f"{server.url}/")
        assert status == 200 and b"racekit leaderboard" in body and headers["content-type"].startswith("text/html")


def test_only_replay_files_are_served_whatever_the_database_says(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    with Leaderboard(tmp_path / "board.sqlite") as lb:
        lb.add(Run(kind="sim", track="oval", direction="forward", racer="sneaky", lap_times=[9.0],
                   video=str(secret), track_map=str(secret)))
    with BackgroundServer(tmp_path / "board.sqlite") as server:
        entry = json.loads(get(f"{server.url}/api/boards")[2])["boards"][0]["entries"][0]
        assert entry["racer"] == "sneaky" and entry["video"] is None and entry["map"] is None
        assert get(f"{server.url}/runs/1/replay.mp4")[0] == 404 and get(f"{server.url}/runs/1/map.png")[0] == 404


def test_race_types_and_head_to_head_heats_in_the_json(tmp_path):
    with Leaderboard(tmp_path / "board.sqlite") as lb:
        lb.add(Run(kind="sim", track="oval", direction="forward", racer="boxer", lap_times=[12.0],
                   race_type="object-avoidance", crashes=2, crashes_per_lap=[2], offtracks_per_lap=[0]))
        cars = [Run(kind="sim", track="oval", direction="forward", racer=name, lap_times=[9.0 + i],
                    race_type="head-to-head", heat_position=i + 1, crashes=i) for i, name in enumerate(("a", "b"))]
        lb.add_heat(Heat(track="oval", direction="forward", laps_planned=1), cars, [Contact(1.5, 1, 1, 0)])
    with BackgroundServer(tmp_path / "board.sqlite") as server:
        data = json.loads(get(f"{server.url}/api/boards?rank=best-lap")[2])
    assert [(b["key"], b["race_type"], b["race_type_title"]) for b in data["boards"]] == [
        ("sim/oval/forward/object-avoidance", "object-avoidance", "object avoidance"),
        ("sim/oval/forward/head-to-head", "head-to-head", "head-to-head")]
    boxer = data["boards"][0]["entries"][0]
    assert (boxer["crashes"], boxer["crashes_per_lap"], boxer["heat"]) == (2, [2], None)
    a, b = data["boards"][1]["entries"]
    assert a["heat"] == {"id": 1, "position": 1, "cars": 2, "hit": [],
                         "hit_by": [{"racer": "b", "sim_time": 1.5, "lap": 1}]}
    assert b["heat"]["hit"] == [{"racer": "a", "sim_time": 1.5, "lap": 1}] and b["heat"]["position"] == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_racekit_leaderboard_serve_runs_on_localhost_until_ctrl_c(board):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "racekit", "leaderboard", "serve", "--port", str(port),
                             "--db", str(board)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, status = time.monotonic() + WAIT, None
        while status != 200 and time.monotonic() < deadline and proc.poll() is None:
            try:
                status = get(f"http://127.0.0.1:{port}/api/boards")[0]
            except OSError:  # not listening yet
                time.sleep(0.1)
        assert status == 200, proc.stderr.read() if proc.poll() is not None else "no answer"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert f"on http://localhost:{port}/" in out and str(board) in out




@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "chromium", "1280,900", ("--autoplay-policy=no-user-gesture-required",)) as driver:
        yield driver


def wait_for(driver, condition, message):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the page redraws its tables on every load: an element found a moment ago may be gone
    return WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
                         ).until(lambda d: condition(d), message)


def script(driver, code):
    return driver.execute_script(code)


@needs_chromium
def test_the_page_shows_a_board_per_track_and_opens_replays(board, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with BackgroundServer(board) as server:
        browser.get(f"{server.url}/")
        wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true",
                 "the boards never loaded")
        sections = browser.find_elements(By.CSS_SELECTOR, "section.board")
        assert [s.get_attribute("data-board") for s in sections] == [
            "sim/oval/forward", "physical/oval/forward", "physical/piccolo/forward"]
        assert sections[0].find_element(By.TAG_NAME, "h2").text.startswith("oval (forward), time trial, simulated")
        assert sections[0].get_attribute("data-race-type") == "time-trial"
        physical_rows = sections[1].find_elements(By.CSS_SELECTOR, "tbody tr")
        assert physical_rows[0].find_element(By.CSS_SELECTOR, "td.racer").text == "alice"
        assert physical_rows[0].find_element(By.CSS_SELECTOR, "td.score").text == "9.93"
        # a racer's name is text, never markup
        assert physical_rows[1].find_element(By.CSS_SELECTOR, "td.racer").text == "<b>bob</b>"
        assert not browser.find_elements(By.CSS_SELECTOR, "td.racer b")

        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "leaderboard.png"))
        Select(browser.find_element(By.ID, "rank")).select_by_value("best-lap")
        wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-rank") == "best-lap",
                 "the boards are not redrawn by best lap")
        first = browser.find_element(By.CSS_SELECTOR, "section.board tbody tr")
        assert first.find_element(By.CSS_SELECTOR, "td.position").text == "1"
        assert first.find_element(By.CSS_SELECTOR, "td.racer").text == "straight-liner"
        assert browser.find_element(By.ID, "laps").get_attribute("placeholder") == "1"

        sections = browser.find_elements(By.CSS_SELECTOR, "section.board")
        sections[0].find_element(By.CSS_SELECTOR, "tbody tr[data-id='1']").click()
        wait_for(browser, lambda d: script(d, "return document.getElementById('replay').open"), "no replay opened")
        # the replay really decodes in the browser (H.264 MP4) and the map loads
        wait_for(browser, lambda d: script(d, "const v = document.getElementById('replay-video');"
                                              "return v.readyState >= 2 && v.videoWidth") == VIDEO[0],
                 "the replay video does not play")
        assert script(browser, "return document.getElementById('replay-video').duration") > 20  # penalties included
        wait_for(browser, lambda d: script(d, "return document.getElementById('replay-map').naturalWidth") > 300,
                 "the track map does not load")
        assert "off-tracks" in browser.find_element(By.ID, "replay-laps").text
        assert browser.find_element(By.ID, "replay-title").text.endswith("time trial")
        script(browser, "const v = document.getElementById('replay-video'); v.pause(); v.currentTime = 2.5;")
        wait_for(browser, lambda d: script(d, "const v = document.getElementById('replay-video');"
                                              "return !v.seeking && v.readyState >= 2"), "seeking in the replay fails")
        browser.save_screenshot(str(ARTIFACTS / "leaderboard-replay.png"))
        browser.find_element(By.ID, "replay-close").click()
        wait_for(browser, lambda d: not script(d, "return document.getElementById('replay').open"),
                 "the replay does not close")


@needs_chromium
def test_entries_show_their_map_and_lap_times_and_link_their_runs_analysis(tmp_path, browser):
    import torch
    from selenium.webdriver.common.by import By

    from racekit.agent.export import export_onnx
    from racekit.agent.imitation import imitate
    from racekit.agent.train import RunConfig

    torch.set_num_threads(1)
    run = imitate(tmp_path / "run", RunConfig(track="oval", frame_stack=1), max_speed=2.0, samples=400, epochs=2)
    inside = run / "model.onnx"  # where `racekit export RUN -o RUN/model.onnx` puts it
    export_onnx(run, inside)
    outside = constant_model(tmp_path / "straight.onnx")
    db = str(tmp_path / "board.sqlite")
    for model, name in ((inside, "clone"), (outside, "straight")):
        assert main(["race", str(model), "--track", "oval", "--laps", "1", "--name", name, "--db", db,
                     "--video-size", "160x120"]) == 0
    with BackgroundServer(Path(db)) as server:
        entries = {e["racer"]: e for e in json.loads(get(f"{server.url}/api/boards")[2])["boards"][0]["entries"]}
        assert entries["clone"]["analysis"] == f"/runs/{entries['clone']['id']}/report.html"
        assert entries["straight"]["analysis"] is None  # its file lies in no training run
        browser.get(f"{server.url}/")
        wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true",
                 "the boards never loaded")
        wait_for(browser, lambda d: script(d, "return [...document.querySelectorAll('td.thumb img')]"
                                              ".filter(i => i.naturalWidth > 0).length") == 2,
                 "the track map thumbnails do not load")
        rows = {r.find_element(By.CSS_SELECTOR, "td.racer").text: r
                for r in browser.find_elements(By.CSS_SELECTOR, "section.board tbody tr")}
        assert rows["clone"].find_element(By.CSS_SELECTOR, "td.laptimes").text == \
            f"{entries['clone']['lap_times'][0]:.2f}"
        assert not rows["straight"].find_elements(By.CSS_SELECTOR, "a.analysis")
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "leaderboard-thumbnails.png"))
        rows["clone"].find_element(By.CSS_SELECTOR, "a.analysis").click()  # opens the report in a new tab
        wait_for(browser, lambda d: len(d.window_handles) == 2, "the analysis link opens nothing")
        browser.switch_to.window(browser.window_handles[1])
        wait_for(browser, lambda d: "racekit analysis" in d.title, "the report does not load")
    assert (run / "report.html").is_file()  # made on first asking, kept for the next
