"""Env steps per second, one process on one core: racekit beside Gymnasium's CarRacing-v3.

Every env runs the same way: random actions drawn beforehand from a seeded action
space, resets included, pixels on. racekit runs at its default camera (80x60 gray) and at
DeepRacer's 160x120 RGB, each with the fast renderer and the default physics
(now) and with TinyRenderer and 8 physics substeps (the first version), so the
ratios to CarRacing-v3 of both come from the same run. Then the time of one step
split into render (the front camera), physics (one control period), params (lap
progress and DeepRacer's reward params) and the rest (the env's own work, resets,
the gym wrappers), for both, timed inside real steps.

    .venv/bin/python bench/sim_throughput.py [--seconds 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import racekit.envs  # noqa: E402,F401  (registers racekit/ envs)
from racekit.sim.lap import LapProgress  # noqa: E402
from racekit.sim.params import reward_params  # noqa: E402

BEFORE = {"renderer": "tiny", "substeps": 8}  # the first version's front camera and physics
DEEPRACER_CAMERA = {"camera_width": 160, "camera_height": 120, "grayscale": False}


def steps_per_second(env: gym.Env, seconds: float, seed: int = 0) -> float:
    env.action_space.seed(seed)
    # drawn beforehand, for every env alike: Box.sample costs about 50 us, the bench's own work, not the env's
    actions = [env.action_space.sample() for _ in range(4096)]
    env.reset(seed=seed)
    for action in actions[:20]:  # warm up
        env.step(action)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(actions[steps % len(actions)])
        steps += 1
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def step_budget(kwargs: dict, steps: int = 2000) -> dict:
    """Milliseconds per step of each part, timed inside real steps (random actions, resets included)."""
    env = gym.make("racekit/TimeTrial-v0", **kwargs)
    inner = env.unwrapped
    spent = {"render": 0.0, "physics": 0.0, "params": 0.0}

    def timed(part, fn):
        def run(*args, **kw):
            start = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                spent[part] += time.perf_counter() - start
        return run

    inner.world.step = timed("physics", inner.world.step)
    inner.world.front_camera = timed("render", inner.world.front_camera)
    # params: lap progress (one projection on the centre line) and the reward params (wheels, waypoints...)
    env_module = sys.modules[type(inner).__module__]
    env_module.reward_params = timed("params", env_module.reward_params)
    lap_update = LapProgress.update
    LapProgress.update = timed("params", lap_update)
    try:
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(steps)]
        env.reset(seed=0)
        for part in spent:
            spent[part] = 0.0
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        total = time.perf_counter() - start
    finally:
        env_module.reward_params = reward_params
        LapProgress.update = lap_update
        env.close()
    budget = {part: seconds / steps * 1e3 for part, seconds in spent.items()}
    budget["other"] = (total - sum(spent.values())) / steps * 1e3  # the env's own work, resets, wrappers
    budget["total"] = total / steps * 1e3
    return budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per env")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # per core: one process on one core

    rows = [
        ("CarRacing-v3 (96x96 RGB)", "CarRacing-v3", {}),
        ("racekit default (80x60 gray)", "racekit/TimeTrial-v0", {}),
        ("racekit 160x120 RGB", "racekit/TimeTrial-v0", DEEPRACER_CAMERA),
        ("tiny, 8 substeps (first version) 80x60 gray", "racekit/TimeTrial-v0", BEFORE),
        ("tiny, 8 substeps (first version) 160x120 RGB", "racekit/TimeTrial-v0", {**BEFORE, **DEEPRACER_CAMERA}),
    ]
    rates = {}
    for name, env_id, kwargs in rows:
        rates[name] = steps_per_second(gym.make(env_id, **kwargs), args.seconds)
        print(f"{name:<46} {rates[name]:8.1f} steps/s", flush=True)
    base = rates[rows[0][0]]
    for name, _, _ in rows[1:]:
        print(f"ratio {name} / CarRacing-v3: {rates[name] / base:.2f}x")

    print("\nper-step time budget, ms (render, physics, params, other):")
    for name, kwargs in [("now, 80x60 gray", {}), ("first version, 80x60 gray", BEFORE),
                         ("now, 160x120 RGB", DEEPRACER_CAMERA), ("first version, 160x120 RGB", {**BEFORE, **DEEPRACER_CAMERA})]:
        b = step_budget(kwargs)
        print(f"  {name:<28} render {b['render']:.3f}  physics {b['physics']:.3f}  params {b['params']:.3f}  "
              f"other {b['other']:.3f}  = {b['total']:.3f} ms")
    gray, rgb = rates[rows[1][0]] / base, rates[rows[2][0]] / base
    print(f"\nbar: >= 10x CarRacing-v3 at the default camera -> {gray:.1f}x {'PASS' if gray >= 10 else 'FAIL'}; "
          f">= 5x at 160x120 RGB -> {rgb:.1f}x {'PASS' if rgb >= 5 else 'FAIL'}")


if __name__ == "__main__":
    main()
