"""The robustness suite (`racekit evaluate MODEL --suite robustness`, agent/robustness.py) and the car side of
sim-to-real: the car prepares frames as the simulator does, and `racekit car drive` measures the delay from a
frame's capture to its command beside the latency the model was trained for."""
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from racekit.agent import robustness
from racekit.cli import main
from racekit.hardware.model import CameraSpec as CarCamera
from racekit.hardware.preprocess import FrameStacker, convert_frame
from racekit.hardware.virtual import open_virtual_controller
from racekit.sim.camera import CameraSpec
from racekit.sim.env import TimeTrialEnv
from racekit.sim.randomization import PRESETS

from hardware_helpers import half_bright, make_model, write_video
from race_helpers import cloned_model, constant_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"constant": constant_model(folder / "straight.onnx"), "clone": cloned_model(folder / "clone")}


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr().out
    return code, out


def test_the_suite_runs_every_condition_and_scores_clean_laps_over_laps(tmp_path, models, capsys):
    out_dir = tmp_path / "suite"
    code, out = run_cli(capsys, "evaluate", str(models["constant"]), "--suite", "robustness", "--out", str(out_dir))
    assert code == 0
    suite, notes = robustness.conditions()
    data = json.loads((out_dir / "robustness.json").read_text())
    rows = data["rows"]
    assert [r["name"] for r in rows] == [c.name for c in suite]  # every condition, in order
    kinds = {r["kind"] for r in rows}
    assert kinds == {"visual", "camera", "dynamics", "direction", "track"}
    assert {"latency-1", "latency-2", "trim-left", "trim-right", "low-grip", "reversed", "pitch-up",
            "fov-wide", "darker", "line-colours", "generated-1", "generated-3"} <= {r["name"] for r in rows}
    if robustness.deepracer_tracks_dir() is not None:
        assert sum(r["name"].startswith("track-") for r in rows) == len(robustness.PUBLIC_TRACKS)
    else:
        assert notes and "skipped" in out
    assert data["laps"] == sum(r["laps"] for r in rows) == len(rows)  # --laps 1 by default with --suite
    assert data["score"] == sum(r["clean_laps"] for r in rows) / sum(r["laps"] for r in rows)
    for row in rows:
        assert f"] {row['name']} " in out  # a progress line per condition
    assert f"score: {data['score']:.1%}" in out
    picture = cv2.imread(str(out_dir / "robustness.png"))
    assert picture is not None and picture.shape[0] > 200 and picture.shape[1] > 600
    # the conditions really differ: the camera's view at the start of each race (the picture's frames) is
    # another one under every look, camera mount, direction and track
    seen = [r["frame_sha256"] for r in rows if r["kind"] != "dynamics"]
    assert None not in seen and len(set(seen)) == len(seen)
    # and a plain race's view is none of them
    frames = []
    from racekit.agent.evaluate import evaluate
    from racekit.models import open_driver

    opened = open_driver(str(models["constant"]))
    driver, camera, actions = opened.drive, opened.camera, opened.actions

    def grab(env, obs, info):
        if not frames:
            frames.append(np.array(obs[:, :, -1:]))

    from racekit.tracks import load_track

    evaluate(driver, load_track("oval"), camera, actions, laps=1, seed=robustness.SUITE_SEED, on_step=grab)
    import hashlib

    plain = hashlib.sha256(frames[0].tobytes()).hexdigest()
    assert plain not in seen


def test_the_conditions_sit_at_or_beyond_the_default_training_ranges():
    default = PRESETS["default"]
    by_name = {c.name: c for c in robustness.conditions()[0]}
    for name, fieldname, beyond in (("darker", "brightness", lambda v, r: v <= r[0]),
                                    ("brighter", "brightness", lambda v, r: v >= r[1]),
                                    ("low-contrast", "contrast", lambda v, r: v <= r[0]),
                                    ("pitch-up", "camera_pitch", lambda v, r: v <= r[0]),
                                    ("pitch-down", "camera_pitch", lambda v, r: v >= r[1]),
                                    ("latency-2", "latency", lambda v, r: v >= r[1]),
                                    ("trim-left", "steering_trim", lambda v, r: v >= r[1]),
                                    ("low-grip", "tyre_friction", lambda v, r: v <= r[0])):
        value = getattr(by_name[name].randomize, fieldname)
        assert value[0] == value[1] and beyond(value[0], getattr(default, fieldname)), name
    # generated tracks the training schedule never draws
    from racekit.agent.schedule import GENERATED_SEED_BASE

    assert all(seed < GENERATED_SEED_BASE for seed in robustness.GENERATED_SEEDS)


def test_the_suite_takes_a_run_a_checkpoint_and_a_model_file_and_a_subset(tmp_path, models, capsys):
    clone = models["clone"]
    run = clone.parent / "run"
    pt = models["constant"].with_suffix(".pt")
    for model in (clone, run, pt):
        out_dir = tmp_path / model.name
        code, out = run_cli(capsys, "evaluate", str(model), "--suite", "robustness", "--conditions",
                            "darker,latency-1", "--out", str(out_dir))
        assert code == 0
        rows = json.loads((out_dir / "robustness.json").read_text())["rows"]
        assert [r["name"] for r in rows] == ["darker", "latency-1"]
    assert all(r["clean_laps"] == 1 for r in json.loads((tmp_path / "run" / "robustness.json").read_text())["rows"])
    assert main(["evaluate", str(clone), "--suite", "robustness", "--conditions", "nosuch"]) == 2
    assert "unknown condition 'nosuch'" in capsys.readouterr().err


# -- the car side of sim-to-real ---------------------------------------------------------------------------

@pytest.mark.parametrize("grayscale", [True, False])
def test_the_car_prepares_the_simulators_picture_exactly_as_the_env_does(grayscale):
    """The same picture (the simulated camera's RGB frame at the model's size, as BGR the way OpenCV hands it
    to the car) through hardware/preprocess.py and through the env (gray with cv2.COLOR_RGB2GRAY, frames
    stacked oldest first): equal arrays, step after step, with TinyRenderer, whose gray frame is its RGB
    frame converted. (The fast renderer converts its texture to gray before the warp: within 1 gray level.)"""
    channels = 1 if grayscale else 3
    env = TimeTrialEnv(track="piccolo", frame_stack=2, grayscale=grayscale, renderer="tiny")
    try:
        obs, _ = env.reset(seed=0, options={"start_fraction": 0.1})
        stacker = FrameStacker(CarCamera(80, 60, channels, 2))
        for step in range(4):
            rgb = env.world.front_camera(CameraSpec(80, 60, 3))  # the picture the env's frame was made from
            car = stacker.push(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            assert car.shape == (1, *obs.shape) and car.dtype == obs.dtype
            assert np.array_equal(car[0], obs), f"step {step}"
            obs, *_ = env.step(np.array([8.0, 1.5], np.float32))
    finally:
        env.close()


def test_a_full_size_camera_frame_shrinks_to_what_the_simulator_renders_at_the_models_size():
    """A 640x480 BGR frame, as the car's camera gives it, resized (INTER_AREA) and grayed by the car is the
    simulator's 80x60 observation of the same view within a gray level or so on average."""
    env = TimeTrialEnv(track="piccolo", frame_stack=1)
    try:
        obs, _ = env.reset(seed=0, options={"start_fraction": 0.3})
        for _ in range(3):
            big = env.world.front_camera(CameraSpec(640, 480, 3))
            small = convert_frame(cv2.cvtColor(big, cv2.COLOR_RGB2BGR), CarCamera(80, 60, 1, 1))
            assert small.shape == obs.shape
            assert np.abs(small.astype(int) - obs.astype(int)).mean() < 3.0
            obs, *_ = env.step(np.array([-6.0, 1.5], np.float32))
    finally:
        env.close()


def car_drive(tmp_path, model, seconds=1.5):
    frames = [half_bright(120, 160, "left")] * 8 + [half_bright(120, 160, "right")] * 8
    video = write_video(tmp_path / "lap.avi", frames, fps=15)
    with open_virtual_controller("racekit") as virtual:
        proc = subprocess.run([sys.executable, "-m", "racekit", "car", "drive", "--model", str(model), "--serial",
                               virtual.port, "--controller", "racekit", "--camera", str(video), "--duration",
                               str(seconds), "--log", str(tmp_path / "drive.csv")], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_car_drive_prints_capture_to_command_and_warns_beyond_the_trained_latency(tmp_path):
    from hardware_helpers import metadata

    meta = metadata(trained_latency={"steps": [0, 0], "control_hz": 15.0, "ms": [0.0, 0.0]})
    out = car_drive(tmp_path, make_model(tmp_path / "m.onnx", meta=json.dumps(meta)))
    assert "\n  capture to command " in out  # a row of the timing profile
    line = next(l for l in out.splitlines() if l.startswith("capture to command: p50 "))
    assert " ms, p99 " in line and "trained for 0-0 ms" in line
    assert "warning: capture to command" in out and "more than the 0 ms of latency the model was trained" in out
    # a model trained for more latency than the loop has: no warning
    meta = metadata(trained_latency={"steps": [0, 60], "control_hz": 15.0, "ms": [0.0, 4000.0]})
    out = car_drive(tmp_path, make_model(tmp_path / "m2.onnx", meta=json.dumps(meta)))
    assert "capture to command: p50 " in out and "trained for 0-4000 ms" in out and "warning" not in out
    # a model file from before the field: said, no warning
    out = car_drive(tmp_path, make_model(tmp_path / "m3.onnx"))
    assert "does not say which latency it was trained for" in out and "warning" not in out


def test_export_writes_the_trained_latency_from_the_runs_randomisation():
    from racekit.agent.export import trained_latency

    assert trained_latency({}) == {"trained_latency": {"steps": [0, 0], "control_hz": 15.0, "ms": [0.0, 0.0]}}
    assert trained_latency({"randomize": "default"})["trained_latency"] == \
        {"steps": [0, 1], "control_hz": 15.0, "ms": [0.0, 66.7]}
    assert trained_latency({"randomize": "strong"})["trained_latency"]["ms"] == [0.0, 133.3]


def test_the_suite_score_goes_to_the_leaderboard_beside_the_models_races(tmp_path, models, capsys):
    import hashlib

    from racekit.leaderboard.db import Leaderboard

    db = tmp_path / "board.sqlite"
    model = models["clone"]
    code, out = run_cli(capsys, "race", str(model), "--track", "oval", "--laps", "1", "--name", "clone", "--db",
                        str(db), "--out", str(tmp_path / "replays"), "--video-size", "160x120")
    assert code == 0
    code, out = run_cli(capsys, "evaluate", str(model), "--suite", "robustness", "--out", str(tmp_path / "s"),
                        "--db", str(db))
    assert code == 0 and "stored the score with model" in out
    score = json.loads((tmp_path / "s" / "robustness.json").read_text())["score"]
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    with Leaderboard(db) as board:
        assert board.suite_scores() == {sha: score}
    code, out = run_cli(capsys, "leaderboard", "--db", str(db))
    header = next(line for line in out.splitlines() if "racer" in line)
    row = next(line for line in out.splitlines() if " clone " in line)
    assert header.rstrip().endswith("suite") and f"{sha[:12]}  {score:>5.0%}" in row
    # the page's boards carry it (static/board.js draws it as the "suite" column)
    import urllib.request

    from racekit.leaderboard.web import BackgroundServer

    with BackgroundServer(db) as server:
        with urllib.request.urlopen(server.url + "/api/boards", timeout=10) as response:
            boards = json.loads(response.read())["boards"]
        assert [e["suite_score"] for b in boards for e in b["entries"]] == [score]
        page_suite_column(server.url, tmp_path, f"{round(score * 100)}%")
    # a checkpoint has no sha256 the leaderboard knows
    assert main(["evaluate", str(models["constant"].with_suffix(".pt")), "--suite", "robustness", "--db",
                 str(db)]) == 2
    assert "--db" in capsys.readouterr().err


def page_suite_column(url: str, tmp_path, expected: str) -> None:
    """The leaderboard page in headless Chromium shows the score in the entry's `suite` cell (where the
    browser is installed: tests/browser_helpers.py)."""
    from browser_helpers import CHROMEDRIVER, CHROMIUM, chromium

    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        return
    with chromium(tmp_path / "profile", "1200,800") as browser:
        from selenium.webdriver.common.by import By

        browser.get(f"{url}/")
        deadline = time.monotonic() + 20
        while browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") != "true":
            assert time.monotonic() < deadline, "the boards never loaded"
            time.sleep(0.1)
        headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "section.board thead th")]
        assert "suite" in headers
        assert browser.find_element(By.CSS_SELECTOR, "section.board tbody tr td.suite").text == expected


def test_a_sensor_model_meets_its_sensors_conditions_and_a_camera_model_does_not(tmp_path, capsys):
    camera_only = {c.name for c in robustness.conditions()[0]}
    assert not {"stereo-skew", "lidar-noise", "lidar-dropout"} & camera_only  # its score compares as before
    for name, field in (("stereo-skew", "stereo_skew"), ("lidar-noise", "lidar_noise"),
                        ("lidar-dropout", "lidar_dropout")):  # beyond what the default preset trains under
        condition = next(c for c in robustness.conditions(sensors=("stereo-cameras", "lidar"))[0] if c.name == name)
        assert condition.kind == "sensor" and getattr(condition.randomize, field)[0] > getattr(PRESETS["default"],
                                                                                               field)[1]
    assert {c.name for c in robustness.conditions(sensors=("front-camera", "sector-lidar"))[0]} - camera_only == \
        {"lidar-noise", "lidar-dropout"}
    model = constant_model(tmp_path / "stereo-lidar.onnx", sensors=("stereo-cameras", "lidar"))
    code, out = run_cli(capsys, "evaluate", str(model), "--suite", "robustness", "--conditions",
                        "lidar-noise,stereo-skew", "--out", str(tmp_path / "suite"))
    assert code == 0 and "2 conditions" in out
    rows = json.loads((tmp_path / "suite" / "robustness.json").read_text())["rows"]
    assert [r["name"] for r in rows] == ["stereo-skew", "lidar-noise"]  # suite order
    assert "lidar_noise" in rows[1]["randomize"]
    plain = constant_model(tmp_path / "plain.onnx")  # a camera-only model has no LIDAR to add noise to
    code = main(["evaluate", str(plain), "--suite", "robustness", "--conditions", "lidar-noise"])
    assert code == 2 and "--conditions: unknown condition 'lidar-noise'" in capsys.readouterr().err
