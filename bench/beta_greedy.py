"""What makes a Beta policy slow? Its greedy action is the Beta's mean; is the mode faster, and still clean?

For each run trained with `--distribution beta` (e.g. bench/recipes.py's robust-beta runs), races its best
checkpoint 3 laps on piccolo twice: greedy = the Beta's mean (what racekit exports today) and greedy = its
mode ((a-1)/(a+b-2), the most likely action; the mean where both shapes are 1). Prints each one's clean
laps, mean lap against the expert's, the mean commanded speed, and the Beta's concentration (a+b) on the
speed dimension along the lap: a flat Beta (a+b near 2) pulls the mean to the middle of the speed range.

    .venv/bin/python bench/beta_greedy.py runs/recipes/robust-beta-seed*-10min
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from racekit.agent.evaluate import evaluate
from racekit.agent.export import find_checkpoint, load_policy_checkpoint
from racekit.tracks import DEFAULT_TRACK
from robustness import expert_lap_time  # bench/robustness.py's: the expert under race rules, same speed limit


def driver(policy, greedy: str, log: dict):
    """Frames -> (steering, speed) with the given greedy rule; logs commanded speeds and concentrations."""
    model, low, high = policy.model, policy.low, policy.high

    def drive(frames: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            alpha, beta = model.beta_shapes(model.actor(model.features(torch.from_numpy(frames))))
            if greedy == "mean":
                unit = alpha / (alpha + beta)
            else:
                unit = torch.where(alpha + beta > 2.0 + 1e-6, (alpha - 1.0) / (alpha + beta - 2.0).clamp_min(1e-6),
                                   alpha / (alpha + beta))
            action = low + unit * (high - low)
        log["speed"].append(float(action[0, 1]))
        log["concentration"].append(float((alpha + beta)[0, 1]))
        return action.numpy()

    return drive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    expert = expert_lap_time()
    print(f"expert's mean lap on {DEFAULT_TRACK}: {expert:.2f} s")
    print(f"{'run':<36} {'greedy':<6} {'clean':>5} {'lap/expert':>10} {'speed m/s':>9} {'a+b (speed)':>11}")
    for run in args.runs:
        policy, state = load_policy_checkpoint(find_checkpoint(str(run)))
        if not getattr(policy.model, "beta", False):
            print(f"{run.name:<36} not a Beta policy")
            continue
        for greedy in ("mean", "mode"):
            log = {"speed": [], "concentration": []}
            result = evaluate(driver(policy, greedy, log), DEFAULT_TRACK, state["camera"], state["actions"], laps=3)
            ratio = f"{result['mean_lap_time'] / expert:.3f}" if result["mean_lap_time"] else "-"
            print(f"{run.name:<36} {greedy:<6} {result['clean_laps']:>3}/3 {ratio:>10} "
                  f"{np.mean(log['speed']):>9.2f} {np.median(log['concentration']):>11.1f}", flush=True)


if __name__ == "__main__":
    main()
