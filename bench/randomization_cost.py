"""What domain randomisation costs: ms per step and per reset, `none` beside `default` and `strong`.

One process on one core (OpenCV and OpenMP held to one thread), timed in CPU time (process_time, so other
work on the machine does not count); random actions from a seeded action space, a reset at least every
100 steps; the fast renderer at the default camera (80x60 gray) and at DeepRacer's 160x120 RGB, and
TinyRenderer (whose reset loads the new ground texture). Then the time to draw one ground picture, per floor.

    .venv/bin/python bench/randomization_cost.py [--steps 1500]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from racekit.sim.env import TimeTrialEnv  # noqa: E402
from racekit.sim.looks import FLOOR_COLOURS, Look, draw_look  # noqa: E402
from racekit.tracks import load_track  # noqa: E402

CAMERAS = {"80x60 gray": {}, "160x120 RGB": {"camera_width": 160, "camera_height": 120, "grayscale": False}}


def cost(randomize, steps: int, **kwargs) -> tuple[float, float]:
    """(ms per step, ms per reset) over `steps` steps with random actions."""
    env = TimeTrialEnv(randomize=randomize, **kwargs)
    env.action_space.seed(0)
    env.reset(seed=0)
    step_s = reset_s = 0.0
    resets = 0
    for i in range(steps):
        start = time.process_time()
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        step_s += time.process_time() - start
        if terminated or truncated or (i + 1) % 100 == 0:  # a reset every 100 steps at least
            start = time.process_time()
            env.reset()
            reset_s += time.process_time() - start
            resets += 1
    env.close()
    return 1000 * step_s / steps, 1000 * reset_s / max(1, resets)


def main() -> None:
    cv2.setNumThreads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    for camera, kwargs in CAMERAS.items():
        for preset in (None, "default", "strong"):
            step_ms, reset_ms = cost(preset, args.steps, **kwargs)
            print(f"fast, {camera:12s} {str(preset):8s} {step_ms:6.2f} CPU ms/step {reset_ms:7.1f} CPU ms/reset")
    for preset in (None, "default"):
        step_ms, reset_ms = cost(preset, 200, renderer="tiny")
        print(f"tiny, 80x60 gray    {str(preset):8s} {step_ms:6.2f} CPU ms/step {reset_ms:7.1f} CPU ms/reset")
    track = load_track("piccolo")
    for floor in [*FLOOR_COLOURS, "plain"]:
        look = Look(floor=floor, road_texture=8.0)
        start = time.process_time()
        for seed in range(5):
            draw_look(track, Look(**{**look.__dict__, "seed": seed}))
        print(f"draw_look {floor:9s} {1000 * (time.process_time() - start) / 5:6.1f} CPU ms (piccolo, "
              f"{np.prod(draw_look(track, look).image.shape[:2]) / 1e6:.1f} Mpx)")


if __name__ == "__main__":
    main()
