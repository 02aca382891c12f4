"""Does `racekit tune` find better PPO settings than the defaults, and what does the search cost?

Runs the real `racekit tune` command (Ray started on this machine, one trial at a time on its cores) on the
default track with the project's best example reward, then one `racekit train` with the default settings,
the same seed, budget and evaluations: the peer every trial is measured against. Prints each trial's best
score (agent/tune.py: completion %, or 100 + 100 / mean lap seconds once every lap is completed), the
defaults' best score beside the best trial's, and the search's wall-clock minutes beside what its trials
would have taken had ASHA stopped none.

    .venv/bin/python bench/tune.py [--trials 8] [--minutes 2] [--eval-every 10000] [--seed 0]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from racekit.agent.logbook import read_evaluations
from racekit.agent.tune import score
from racekit.tracks import DEFAULT_TRACK

ROOT = Path(__file__).resolve().parents[1]
REWARD = ROOT / "examples" / "rewards" / "speed_along_track.py"
RACEKIT = [sys.executable, "-m", "racekit"]


def best_score(run_dir: Path) -> tuple[float | None, int]:
    """The run's best evaluation score and how many evaluations it made."""
    evals = read_evaluations(run_dir)  # the reader a trial reports through
    return (max(map(score, evals)) if evals else None), len(evals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=2.0, help="wall-clock budget of each trial")
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="racekit-bench-tune-"))
    common = ["--reward", str(REWARD), "--minutes", f"{args.minutes:g}", "--eval-every", str(args.eval_every),
              "--seed", str(args.seed)]
    search = [*RACEKIT, "tune", "--track", DEFAULT_TRACK, *common, "--trials", str(args.trials),
              "--out", str(scratch / "tune")]
    print("$ " + " ".join(["racekit", *search[3:]]), flush=True)
    started = time.perf_counter()
    subprocess.run(search, check=True)
    search_minutes = (time.perf_counter() - started) / 60

    defaults = [*RACEKIT, "train", "--track", DEFAULT_TRACK, *common, "--steps", "100000000", "--quiet",
                "--out", str(scratch / "defaults")]
    print("$ " + " ".join(["racekit", *defaults[3:]]), flush=True)
    subprocess.run(defaults, check=True)

    trials = sorted((best_score(d) for d in (scratch / "tune").glob("trial-*") if d.is_dir()),
                    key=lambda s: -1.0 if s[0] is None else -s[0])
    found, _ = trials[0]
    default_score, default_evals = best_score(scratch / "defaults")
    stopped = sum(1 for _, n in trials if n < default_evals)
    print(f"\ntrials' best scores: {', '.join('-' if s is None else f'{s:.1f}' for s, _ in trials)}")
    print(f"default settings, same seed and {args.minutes:g} min: best score "
          f"{'-' if default_score is None else f'{default_score:.1f}'} ({default_evals} evaluations)")
    print(f"best trial: {found:.1f}; {'better than' if default_score is None or found > default_score else 'not above'}"
          f" the defaults")
    print(f"search: {search_minutes:.1f} min for {args.trials} trials of {args.minutes:g} min "
          f"({args.trials * args.minutes:g} min had none stopped early; {stopped} made fewer evaluations than the "
          f"defaults' run)")


if __name__ == "__main__":
    main()
