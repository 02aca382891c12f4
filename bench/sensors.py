"""What DeepRacer's other sensors cost a simulator step, and what they see (issue 24).

Steps the env on piccolo with 6 boxes (object avoidance) for each sensor set, one core, the same actions,
and prints steps/s and each set's cost against the front camera alone. The bar: a step with the camera and a
LIDAR within 1.3x of a camera-only step (the LIDAR is one PyBullet rayTestBatch of 64 rays a step).
With --picture, writes docs/sensors.png: the stereo pair's two pictures and the LIDAR's scan at one spot.

    .venv/bin/python bench/sensors.py [--steps 1500] [--picture docs/sensors.png]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from racekit.replay import draw_scan  # noqa: E402
from racekit.sim.env import TimeTrialEnv  # noqa: E402

SETS = [("front-camera",), ("front-camera", "lidar"), ("front-camera", "sector-lidar"), ("stereo-cameras",),
        ("stereo-cameras", "lidar")]


def steps_per_second(sensors, steps: int, seed: int = 0) -> float:
    env = TimeTrialEnv(track="piccolo", race_type="object-avoidance", sensors=list(sensors), frame_stack=2)
    rng = np.random.default_rng(seed)
    actions = np.stack([rng.uniform(-10, 10, steps), rng.uniform(1.0, 2.0, steps)], axis=1).astype(np.float32)
    try:
        env.reset(seed=seed)
        for a in actions[:50]:  # warm up
            env.step(a)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def picture(path: str) -> None:
    """The stereo pair (left, right) and the scan's radar, where the car has boxes beside and ahead."""
    env = TimeTrialEnv(track="piccolo", race_type="object-avoidance", sensors=["stereo-cameras", "lidar"],
                       camera_width=160, camera_height=120, render_mode="rgb_array", object_positions=[
                           (0.04, 1), (0.055, -1), (0.075, 1)])
    try:
        env.reset(seed=0, options={"start_fraction": 0.0})
        for _ in range(16):  # to beside the first box
            obs, *_ = env.step(np.array([0.0, 1.0], np.float32))
        pair = obs["stereo-cameras"]
        left, right = (cv2.resize(pair[:, :, c], (320, 240), interpolation=cv2.INTER_NEAREST) for c in (0, 1))
        cameras = np.concatenate([left, np.full((240, 8), 255, np.uint8), right], axis=1)
        cameras = np.repeat(cameras[:, :, None], 3, axis=2)
        chase = draw_scan(cv2.resize(env.render(), (320, 240)), env.lidar_ranges)
        row = np.concatenate([cameras, np.full((240, 8, 3), 255, np.uint8), chase], axis=1)
        for x, label in ((6, "left camera"), (334, "right camera"), (662, "chase view, LIDAR scan")):
            cv2.putText(row, label, (x, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 60, 60), 1, cv2.LINE_AA)
        cv2.imwrite(path, cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
        print(f"wrote {path}")
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--picture", help="write the stereo pair and the scan to this PNG")
    args = parser.parse_args()
    rates = {sensors: steps_per_second(sensors, args.steps) for sensors in SETS}
    base = rates[SETS[0]]
    print(f"piccolo, 6 boxes, 80x60 grey x2 frames, {args.steps} steps each, one core")
    for sensors, rate in rates.items():
        print(f"  {' + '.join(sensors):32s} {rate:7.1f} steps/s   {base / rate:.2f}x the front camera's step")
    ratio = base / rates[("front-camera", "lidar")]
    print(f"camera + lidar step: {ratio:.2f}x camera only (bar: within 1.3x): {'PASS' if ratio <= 1.3 else 'FAIL'}")
    if args.picture:
        picture(args.picture)


if __name__ == "__main__":
    main()
