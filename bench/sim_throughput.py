"""Env steps per second, one process: racekit's TimeTrial-v0 beside Gymnasium's CarRacing-v3.

Both envs run the same way: random actions from a seeded action space, resets
included, pixels on. Prints steps/s for each, and racekit's at DeepRacer's
160x120 RGB camera too, with the ratio to CarRacing-v3.

    .venv/bin/python bench/sim_throughput.py [--seconds 20]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402

import racekit  # noqa: E402,F401  (registers racekit/ envs)


def steps_per_second(env: gym.Env, seconds: float, seed: int = 0) -> float:
    env.action_space.seed(seed)
    env.reset(seed=seed)
    for _ in range(20):  # warm up
        env.step(env.action_space.sample())
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per env")
    args = parser.parse_args()

    rows = [("CarRacing-v3 (96x96 RGB)", lambda: gym.make("CarRacing-v3"))]
    rows.append(("racekit/TimeTrial-v0 default (80x60 gray)", lambda: gym.make("racekit/TimeTrial-v0")))
    rows.append(("racekit/TimeTrial-v0 at 160x120 RGB", lambda: gym.make(
        "racekit/TimeTrial-v0", camera_width=160, camera_height=120, grayscale=False)))
    rates = {}
    for name, make in rows:
        rates[name] = steps_per_second(make(), args.seconds)
        print(f"{name:<44} {rates[name]:8.1f} steps/s", flush=True)
    base = rates[rows[0][0]]
    for name, _ in rows[1:]:
        print(f"ratio {name} / CarRacing-v3: {rates[name] / base:.2f}x")


if __name__ == "__main__":
    main()
