"""How fast does racekit learn to lap from pixels, and how fast does the result race?

Part 1, time to lap: for each seed, train PPO on the default track with the
project's best example reward and record the wall-clock minutes and env steps
until the first evaluation (greedy policy, 3 laps, race rules) that completes
3 consecutive laps with no off-track. A seed fails if that takes longer than
--lap-minutes (the bar: 3 minutes). Also prints training env steps/s, and races
each seed's policy (trained through the fast renderer) with TinyRenderer drawing
its camera instead: a policy must not depend on which renderer it learnt with.

Part 2, lap time: one seed trained for --race-minutes; its evaluation's mean
lap time beside the expert driver's on the same track with the same speed
limit, and their ratio.

    .venv/bin/python bench/time_to_lap.py                 # both parts (about 1 hour)
    .venv/bin/python bench/time_to_lap.py --part lap      # part 1 only
    .venv/bin/python bench/time_to_lap.py --part race     # part 2 only
    .venv/bin/python bench/time_to_lap.py --part race -- --learning-rate 7.3e-4 --discount 0.95   # other PPO settings
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from racekit.agent.evaluate import evaluate
from racekit.agent.logbook import read_evaluations
from racekit.agent.ppo import PPOConfig
from racekit.agent.train import RunConfig, train
from racekit.agent.tune import SEARCH_SPACE
from racekit.cli import UserError, build_parser
from racekit.cli.train import new_run_config
from racekit.models import open_driver
from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import ExpertDriver, drive_lap
from racekit.tracks import DEFAULT_TRACK

REWARD = Path(__file__).resolve().parents[1] / "examples" / "rewards" / "speed_along_track.py"


def run(run_dir: Path, seed: int, minutes: float, eval_every: int, stop_when_clean: bool,
        ppo: PPOConfig) -> list[dict]:
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = RunConfig(track=DEFAULT_TRACK, reward=str(REWARD), steps=10_000_000, seed=seed, minutes=minutes,
                    eval_every=eval_every, stop_when_clean=stop_when_clean, ppo=ppo)
    train(run_dir, cfg, quiet=True)
    return read_evaluations(run_dir)


PPO_FLAGS = (*SEARCH_SPACE, "--bootstrap-at-finish", "--distribution")  # racekit train's flags that set PPO alone


def ppo_settings(flags: list[str]) -> PPOConfig:
    """The PPO settings `racekit train` makes of its PPO flags (those `racekit tune` searches and prints)."""
    other = [flag for flag in flags if flag.startswith("--") and flag not in PPO_FLAGS]
    if other:
        raise SystemExit(f"bench/time_to_lap.py: after --, only {', '.join(PPO_FLAGS)}; got {', '.join(other)}")
    try:
        line = ["train", "--out", ".", "--reward", str(REWARD), *flags]  # --out is required, not used here
        return new_run_config(build_parser().parse_args(line)).ppo
    except UserError as exc:
        raise SystemExit(f"bench/time_to_lap.py: {exc}") from None


def expert_lap_time(max_speed: float, laps: int = 3) -> float:
    """The expert's mean lap time under the evaluation's race rules and the same speed limit."""
    env = TimeTrialEnv(track=DEFAULT_TRACK, laps=laps, race=True, info_params=False)
    result = drive_lap(env, ExpertDriver(env, max_speed=max_speed))
    env.close()
    return float(np.mean(result["info"]["lap_times"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["lap", "race", "both"], default="both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lap-minutes", type=float, default=3.0)
    parser.add_argument("--race-minutes", type=float, default=30.0)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("ppo_flags", nargs=argparse.REMAINDER,
                        help="after --: racekit train's PPO flags, as racekit tune prints them")
    args = parser.parse_args()
    flags = args.ppo_flags[1:] if args.ppo_flags[:1] == ["--"] else args.ppo_flags
    ppo = ppo_settings(flags)
    scratch = Path(tempfile.mkdtemp(prefix="racekit-bench-"))
    print(f"track {DEFAULT_TRACK}, reward {REWARD.name}, runs in {scratch}"
          + (f"; PPO settings {' '.join(flags)}" if flags else ""), flush=True)

    if args.part in ("lap", "both"):
        successes = 0
        for seed in args.seeds:
            evals = run(scratch / f"lap-seed{seed}", seed, args.lap_minutes, args.eval_every, stop_when_clean=True, ppo=ppo)
            clean = next((e for e in evals if e["all_clean"]), None)
            rate = evals[-1]["global_step"] / max(evals[-1]["wall_seconds"], 1e-9) if evals else 0.0
            if clean:
                successes += 1
                print(f"seed {seed}: 3 clean laps after {clean['wall_seconds'] / 60:.1f} min, "
                      f"{clean['global_step']} env steps (lap times {', '.join(f'{t:.2f}' for t in clean['lap_times'])} s); "
                      f"{rate:.0f} env steps/s", flush=True)
            else:
                print(f"seed {seed}: no clean 3-lap evaluation within {args.lap_minutes:g} min; {rate:.0f} env steps/s",
                      flush=True)
            if evals:
                opened = open_driver(str(scratch / f"lap-seed{seed}"))
                driver, camera, actions = opened.drive, opened.camera, opened.actions
                tiny = evaluate(driver, DEFAULT_TRACK, camera, actions, laps=3, env_kwargs={"renderer": "tiny"})
                print(f"  the same policy raced through TinyRenderer: {tiny['clean_laps']}/3 clean laps, "
                      f"{tiny['offtracks']} off-tracks, mean lap {tiny['mean_lap_time'] or float('nan'):.2f} s", flush=True)
        print(f"time to lap: {successes}/{len(args.seeds)} seeds lapped cleanly within {args.lap_minutes:g} min "
              f"(bar: 3 of 3 within 3 min): {'PASS' if successes == len(args.seeds) else 'FAIL'}")

    if args.part in ("race", "both"):
        evals = run(scratch / "race", args.seeds[0], args.race_minutes, args.eval_every, stop_when_clean=False, ppo=ppo)
        final = evals[-1]
        # the best checkpoint is what `racekit export` writes; the last evaluation is shown beside it
        best = max(evals, key=lambda e: (e["clean_laps"], e["completion"], -(e["mean_lap_time"] or 1e9)))
        expert = expert_lap_time(max_speed=4.0)
        print(f"expert driver, same track, race rules and 4 m/s limit: mean lap {expert:.2f} s")
        for label, e in (("last evaluation", final), ("best checkpoint", best)):
            lap = e["mean_lap_time"]
            ratio = f", ratio to the expert {lap / expert:.2f}" if lap else ""
            print(f"{label} (at {e['global_step']} env steps, {e['wall_seconds'] / 60:.1f} min): mean lap "
                  f"{'-' if lap is None else f'{lap:.2f} s'}, clean laps {e['clean_laps']}/3{ratio}")
        lap = final["mean_lap_time"]
        within = lap is not None and final["all_clean"] and lap <= 1.05 * expert
        print(f"bar: the last evaluation's mean lap within 5% of the expert's: {'PASS' if within else 'FAIL'}")


if __name__ == "__main__":
    main()
