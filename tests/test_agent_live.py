"""The live view (agent/live.py): while an evaluation races, RUN/live/ shows its car, for the console."""
import json

import cv2
import numpy as np

from racekit.agent.live import LiveView
from racekit.agent.panel import evaluate_panel
from racekit.agent.train import RunConfig


def picture(path):
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"{path} is not a JPEG"
    return image


def test_an_evaluation_keeps_the_live_pictures_of_its_car_and_says_when_it_ends(tmp_path):
    cfg = RunConfig(track="oval", eval_laps=1)
    live = LiveView(tmp_path, channels=cfg.camera()["channels"], fps=1000.0)  # a picture every step
    seen = []
    original = live.on_step

    def watch(env, obs, info):
        original(env, obs, info)
        seen.append(((tmp_path / "live" / "chase.jpg").stat().st_mtime_ns,
                     json.loads((tmp_path / "live" / "status.json").read_text())["evaluating"]))

    live.on_step = watch
    straight = lambda frames: [(0.0, 1.5)]  # noqa: E731 - drives off at the first bend: a short race
    evaluate_panel(straight, cfg, [("oval", False)], simtrace=None, live=live, step=1234)
    assert len(seen) > 5 and all(evaluating for _, evaluating in seen)  # "evaluating" while it races
    front, chase = picture(tmp_path / "live" / "front.jpg"), picture(tmp_path / "live" / "chase.jpg")
    camera = cfg.camera()
    assert front.shape[:2] == (2 * camera["height"], 2 * camera["width"])  # the model's frame, scaled up
    assert chase.shape == (240, 320, 3) and chase.std() > 10  # a picture, not a blank
    status = json.loads((tmp_path / "live" / "status.json").read_text())
    assert status == {**status, "step": 1234, "track": "oval", "evaluating": False}
    assert not list((tmp_path / "live").glob("*.part"))  # every file renamed into place


def test_pictures_are_taken_at_most_fps_times_a_second(tmp_path):
    from racekit.sim.env import TimeTrialEnv

    env = TimeTrialEnv(track="oval")
    try:
        obs, info = env.reset(seed=0)
        live = LiveView(tmp_path, channels=1, fps=0.001)
        live.begin(step=0, track="oval")
        live.on_step(env, obs, info)  # the first step of an evaluation: a picture at once
        first = (tmp_path / "live" / "front.jpg").read_bytes()
        obs, *_, info = env.step(np.array([0.5, 1.0], dtype=np.float32))
        live.on_step(env, obs, info)
        assert (tmp_path / "live" / "front.jpg").read_bytes() == first  # too soon for the next
        live.begin(step=10, track="oval")  # the next evaluation starts with a picture of its own
        live.on_step(env, obs, info)
        assert (tmp_path / "live" / "front.jpg").read_bytes() != first
    finally:
        env.close()
