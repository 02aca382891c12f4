"""How long does a generated track take to make? (`--track generated` draws one every few episodes per env.)

Times tracks.generate_track over seeds beside loading a built-in track from its file, on one core, and
prints the median, p99 and slowest of each and their ratio. (It was a test's wall-clock assertion; a
speed is measured here, never asserted in a test.)

    .venv/bin/python bench/track_generation.py [--seeds 200]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from racekit.tracks import load_track
from racekit.tracks.generate import generate_track


def timed(make, keys) -> np.ndarray:
    times = []
    for key in keys:
        start = time.perf_counter()
        make(key)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    generated = timed(generate_track, range(100, 100 + args.seeds))
    builtin = timed(load_track, ["piccolo", "oval", "meadow", "serpentine"] * max(1, args.seeds // 4))
    print(f"{'':<22} {'median ms':>10} {'p99 ms':>8} {'slowest ms':>10}")
    for name, ms in (("generate_track", generated), ("load a built-in track", builtin)):
        print(f"{name:<22} {np.median(ms):>10.1f} {np.percentile(ms, 99):>8.1f} {ms.max():>10.1f}")
    print(f"generating / loading (median): {np.median(generated) / np.median(builtin):.1f}x")


if __name__ == "__main__":
    main()
