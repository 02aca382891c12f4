"""What the DeepRacer sim-trace logs cost training: env steps/s of the same short training with and without.

Runs `racekit train` as a user would, alternately with and without `--no-simtrace`, and reads each run's
env steps/s from its metrics.csv: the run's steps over the training loop's wall time (the last row's
wall_seconds, which counts every rollout, update and trace write, but not the env processes' start or the
final evaluation). Prints both figures, their ratio, and what the trace holds per step.

    .venv/bin/python bench/simtrace_cost.py            # about 1 minute on 2 cores
    .venv/bin/python bench/simtrace_cost.py --pairs 3  # steadier on a busy machine
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COMMAND = ["train", "--steps", "4096", "--envs", "2", "--rollout-steps", "256", "--eval-every", "100000",
           "--eval-laps", "1", "--quiet"]


def steps_per_second(run: Path) -> float:
    with open(run / "metrics.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    return int(last["global_step"]) / float(last["wall_seconds"])


def train(out: Path, simtrace: bool) -> float:
    args = [sys.executable, "-m", "racekit", *COMMAND, "--out", str(out)] + ([] if simtrace else ["--no-simtrace"])
    subprocess.run(args, check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return steps_per_second(out)


def trace_size(run: Path) -> tuple[int, int]:
    """(rows, bytes) of the training sim-trace."""
    files = list((run / "training-simtrace").glob("*-iteration.csv"))
    rows = sum(len(f.read_text().splitlines()) - 1 for f in files)
    return rows, sum(f.stat().st_size for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1, help="runs with and without, alternating (default 1)")
    args = parser.parse_args()
    figures = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            for simtrace in (True, False):  # alternating: a busy machine slows both alike
                figures[simtrace].append(train(Path(tmp) / f"{i}-{simtrace}", simtrace))
        rows, size = trace_size(Path(tmp) / "0-True")
    on, off = statistics.median(figures[True]), statistics.median(figures[False])
    print(f"racekit {' '.join(COMMAND)}  (OMP_NUM_THREADS=1, {args.pairs} pair(s), median)")
    print(f"with sim-trace:    {on:7.1f} env steps/s  {[round(v, 1) for v in figures[True]]}")
    print(f"without (--no-simtrace): {off:7.1f} env steps/s  {[round(v, 1) for v in figures[False]]}")
    print(f"ratio with/without: {on / off:.3f}  ({100 * (1 - on / off):+.1f}% cost)")
    print(f"training trace: {rows} rows, {size / rows:.0f} bytes per row")


if __name__ == "__main__":
    main()
