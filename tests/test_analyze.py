"""`racekit analyze`: one self-contained HTML report on a real run (a cloned expert fine-tuned by PPO for a few
updates, so it has training sim-traces, evaluations that lap the oval, metrics and checkpoints), on its exported
ONNX model, on a run still being written, on a run with nothing but config.json, and on bad input; the page is
opened in headless Chromium and a screenshot kept in tests/artifacts/."""
import base64
import contextlib
import csv
import html
import io
import json
import re
import shutil
import time

import cv2
import numpy as np
import pytest

from browser_helpers import ARTIFACTS, WAIT, chromium, needs_chromium
from racekit.agent.ppo import PPOConfig
from racekit.agent.train import RunConfig, train
from racekit.cli import main

HEADINGS = ["Summary", "Reward per waypoint", "Actions", "Training progress", "Best laps", "Where episodes end",
            "What the model looks at"]
PARTS = ["summary", "reward per waypoint", "action distribution", "progress per iteration", "best laps",
         "where episodes end", "what the model looks at"]


@pytest.fixture(scope="module")
def run(one_thread, tmp_path_factory):
    """The expert cloned on the oval (it laps), then 3 PPO updates of 128 steps with an evaluation after each,
    2 episodes to a sim-trace iteration (about 20 s)."""
    from racekit.agent.imitation import imitate

    cfg = RunConfig(track="oval", eval_every=128, eval_laps=1, simtrace_episodes=2,
                    ppo=PPOConfig(envs=2, rollout_steps=64, minibatch=64, epochs=1))
    run = imitate(tmp_path_factory.mktemp("analyze") / "run", cfg, max_speed=2.0, samples=1500, epochs=5, seed=0)
    assert train(run, RunConfig(steps=384), resume=True, quiet=True)["outcome"] == "done"
    return run


def analyze(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["analyze", *map(str, args)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def report(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    code, out, err = analyze(run, "--out", path)
    assert code == 0, err
    return path, out


def page_of(path) -> str:
    return path.read_text(encoding="utf-8")


def sections(page: str) -> dict[str, str]:
    """Each section's HTML by its heading."""
    found = re.findall(r'<section id="[a-z]+"><h2>(.*?)</h2>(.*?)</section>', page, re.S)
    return {html.unescape(title): html.unescape(body) for title, body in found}


def summary_value(page: str, key: str) -> int:
    match = re.search(rf'data-key="{key}">([^<]*)<', page)
    assert match, key
    return int(match.group(1))


def assert_self_contained(page: str, images: bool = True) -> list[bytes]:
    """No reference out of the page; every image a PNG data URI that decodes. Returns the PNGs."""
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert bool(sources) == images and all(s.startswith("data:image/png;base64,") for s in sources)
    pngs = [base64.b64decode(s.split(",", 1)[1]) for s in sources]
    for png in pngs:
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and min(image.shape[:2]) > 100
    return pngs


def trace_rows(run) -> list[dict]:
    rows = []
    for path in sorted((run / "training-simtrace").glob("*-iteration.csv")):
        with open(path, newline="") as f:
            rows += [dict(r, iteration=path.name.split("-")[0]) for r in csv.DictReader(f)]
    return rows


def test_the_report_on_a_run_is_self_contained_and_has_every_part(report):
    path, out = report
    page = page_of(path)
    assert "<title>racekit analysis: run</title>" in page
    pngs = assert_self_contained(page)
    parts = sections(page)
    assert list(parts) == HEADINGS
    assert "could not be made" not in page and 'class="failed"' not in page
    # a real run of every kind of file: every part has its picture
    for title in HEADINGS[1:]:
        assert "<img " in parts[title], title
    assert "Missing:" not in page
    assert len(pngs) >= 9
    assert "gradient of the policy's steering output" in parts["What the model looks at"]
    # a line per part while it works, then where the page went
    lines = out.splitlines()
    assert lines[0].startswith("analyze: read the run ")
    for part in PARTS:
        assert any(line.startswith(f"analyze: {part}") for line in lines), part
    assert lines[-1].startswith(f"wrote {path} (")


def test_the_numbers_in_the_report_are_the_runs(report, run):
    page = page_of(report[0])
    rows = trace_rows(run)
    episodes: dict[str, list[dict]] = {}
    for r in rows:
        episodes.setdefault(r["episode"], []).append(r)
    ended = [e for e in episodes.values() if max(e, key=lambda r: int(r["steps"]))["done"] == "True"]
    steps = [r for r in rows if r["episode_status"] != "prepare"]
    assert summary_value(page, "iterations") == len({r["iteration"] for r in rows}) >= 2
    assert summary_value(page, "episodes") == len(episodes)
    assert summary_value(page, "ended_episodes") == len(ended) > 0
    assert summary_value(page, "steps") == len(steps) == 384  # every trained step is one row
    assert summary_value(page, "laps") == sum(e[-1]["episode_status"] == "lap_complete" for e in ended)
    with open(run / "metrics.csv", newline="") as f:
        assert summary_value(page, "updates") == len(list(csv.DictReader(f))) == 3
    evaluations = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
    assert summary_value(page, "evaluations") == len(evaluations) == 3
    parts = sections(page)
    # the per-iteration table has a row per iteration, and each evaluation's laps are listed with their times
    table = parts["Training progress"].split("<table>")[1]
    assert table.count("<tr>") - 1 == len({r["iteration"] for r in rows})
    for result in evaluations:
        assert result["lap_times"], "the clone laps the oval"
        for t in result["lap_times"]:
            assert f"{t:.2f}" in parts["Training progress"]
    best = min(t for r in evaluations for t in r["lap_times"])
    assert f"{best:.2f} s" in parts["Best laps"] or f"<td class=num>{best:.2f}</td>" in parts["Best laps"]
    # off-track ends: as many as the trace has
    off = sum(e[-1]["episode_status"] == "off_track" for e in ended)
    if off:
        assert re.search(rf"<td>off track</td><td class=num>{off}</td>", parts["Where episodes end"])


def test_a_model_file_with_a_track_gets_the_parts_that_need_no_training_log(run, tmp_path):
    model = tmp_path / "model.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", str(run), "-o", str(model)]) == 0
    code, out, err = analyze(model, "--track", "oval", "--laps", "1", "--points", "3")
    assert code == 0, err
    path = tmp_path / "model-report.html"  # the default: beside the model
    assert out.splitlines()[-1].startswith(f"wrote {path}")
    assert "lap times" in out and "driving" in out
    page = page_of(path)
    assert "<title>racekit analysis: model.onnx</title>" in page
    assert_self_contained(page)
    parts = sections(page)
    assert list(parts) == HEADINGS and 'class="failed"' not in page
    for title in ("Actions", "Best laps", "What the model looks at"):
        assert "<img " in parts[title], title
    for title in ("Reward per waypoint", "Training progress"):
        assert "Missing: the training log" in parts[title]
    assert "occlusion through model.onnx (onnxruntime)" in parts["What the model looks at"]
    assert "driven lap 1" in parts["Best laps"]


def test_a_run_still_being_written_is_read_as_it_stands(run, tmp_path):
    live = tmp_path / "live"
    shutil.copytree(run, live)
    # the newest iteration's file and metrics.csv end in a half-written line; an evaluation line is half there;
    # the newest evaluation has no sim-trace yet
    newest = max((live / "training-simtrace").glob("*-iteration.csv"), key=lambda p: int(p.name.split("-")[0]))
    text = newest.read_text()
    cut = text[:-20]
    newest.write_text(cut)
    with open(live / "metrics.csv", "a") as f:
        f.write("4,512,3")
    with open(live / "evaluations.jsonl", "a") as f:
        f.write('{"track": "oval", "laps": 1, "lap_t')
    shutil.rmtree(sorted(live.glob("evaluation-*"))[-1])
    code, out, err = analyze(live, "--out", tmp_path / "live.html", "--points", "2", "--quiet")
    assert code == 0, err
    assert out.splitlines() == [out.splitlines()[-1]] and out.startswith("wrote ")  # --quiet: the path only
    page = page_of(tmp_path / "live.html")
    assert_self_contained(page)
    assert 'class="failed"' not in page
    assert "metrics.csv: 1 partial or malformed line skipped" in page
    assert "evaluations.jsonl: 1 partial or malformed line skipped" in page
    assert "sim-traces: 1 partial or malformed line skipped" in page
    rows = trace_rows(run)
    assert summary_value(page, "steps") == sum(r["episode_status"] != "prepare" for r in rows) - 1
    assert summary_value(page, "updates") == 3 and summary_value(page, "evaluations") == 3


def test_a_run_with_only_its_config_says_what_is_missing(run, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run / "config.json", bare / "config.json")
    code, out, err = analyze(bare)
    assert code == 0, err
    page = page_of(bare / "report.html")  # the default: inside the run
    assert_self_contained(page, images=False)
    parts = sections(page)
    assert list(parts) == HEADINGS and 'class="failed"' not in page
    for title in HEADINGS[1:]:
        assert "Missing:" in parts[title] and "<img " not in parts[title], title
    for what in ("no checkpoint", "no training sim-trace", "metrics.csv is missing", "evaluations.jsonl is missing"):
        assert what in parts["Summary"]
    assert "oval: 17.4 m" in parts["Summary"]  # what config.json does say
    assert summary_value(page, "episodes") == 0


def test_bad_input_is_one_line_naming_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "training-simtrace").mkdir()
    (tmp_path / "garbled" / "training-simtrace" / "0-iteration.csv").write_text("a,b,c\n1,2,3\n")
    for path, what in ((tmp_path / "no-such-run", "no such run folder"),
                       (tmp_path / "empty", "not a racekit run folder"),
                       (tmp_path / "notes.txt", "not a run folder, nor a model file"),
                       (tmp_path / "broken", "not a racekit config.json"),
                       (tmp_path / "garbled", "not a DeepRacer sim-trace")):
        code, out, err = analyze(path, "--out", tmp_path / "r.html")
        assert code == 2, (path, out, err)
        assert out == ""
        assert len(err.splitlines()) == 1 and what in err, err
        assert str(path.name) in err
    assert not (tmp_path / "r.html").exists()
    code, out, err = analyze(tmp_path / "broken", "--laps", "0")
    assert code == 2 and "--laps must be from 1" in err


def test_a_discrete_run_shows_its_action_list(one_thread, tmp_path):
    from racekit.sim import DEEPRACER_ACTIONS

    cfg = RunConfig(track="oval", steps=128, eval_every=128, eval_laps=1, camera_width=48, camera_height=36,
                    frame_stack=1, simtrace_episodes=2, actions=[list(a) for a in DEEPRACER_ACTIONS],
                    ppo=PPOConfig(envs=2, rollout_steps=32, minibatch=32, epochs=1))
    train(tmp_path / "discrete", cfg, quiet=True)
    code, out, err = analyze(tmp_path / "discrete", "--points", "2", "--sections", "4", "--quiet")
    assert code == 0, err
    page = page_of(tmp_path / "discrete" / "report.html")
    parts = sections(page)
    assert 'class="failed"' not in page
    assert "discrete, 10 actions" in parts["Summary"]
    assert "how often each action of the list was taken" in parts["Actions"]
    assert parts["Actions"].count("<img ") == 2 and "The lap cut in 4 equal lengths" in parts["Actions"]
    assert summary_value(page, "steps") == 128


@needs_chromium
def test_the_report_renders_in_chromium(report, tmp_path):
    path, _ = report
    with chromium(tmp_path / "chromium", "1280,1000") as browser:
        browser.get(path.resolve().as_uri())
        deadline = time.monotonic() + WAIT
        script = "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : -1)"
        while -1 in (widths := browser.execute_script(script)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert browser.title == "racekit analysis: run"
        assert len(widths) >= 9 and all(w > 0 for w in widths), widths
        headings = browser.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        assert headings == HEADINGS
        # the whole page in the screenshot
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(height + 140, 12000))
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "analyze-report.png"
        assert browser.save_screenshot(str(shot))
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[1] >= 1200 and image.shape[0] > 2000
    # not blank: the dark header, the track maps' greens and the heat maps' colours are all there
    assert image.std() > 30
    codes = (image[::4, ::4].astype(np.int32) // 16) @ np.array([256, 16, 1])
    assert len(np.unique(codes)) > 200


def test_a_sac_runs_metrics_rows_are_not_called_ppo_updates():
    from types import SimpleNamespace

    from racekit.analyze.report import update_unit

    assert update_unit(SimpleNamespace(config={"algorithm": "sac"})).startswith("SAC rollouts")
    assert update_unit(SimpleNamespace(config={"track": "oval"})) == "PPO updates"  # a run from before SAC
    assert update_unit(SimpleNamespace(config=None)) == "PPO updates"
