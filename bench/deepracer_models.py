"""DeepRacer's real sample model in racekit (issue 22): how long its import takes and how much memory, how
it drives racekit's copies of DeepRacer's tracks through DeepRacer's camera and look, and how many minutes
of `racekit train --from` it needs to lap one cleanly.

    .venv/bin/python bench/deepracer_models.py --part import      # seconds and peak memory, 3 runs
    .venv/bin/python bench/deepracer_models.py --part drive       # 3 laps on each DeepRacer track listed
    .venv/bin/python bench/deepracer_models.py --part drive --seen-as racekit   # through racekit's camera
    .venv/bin/python bench/deepracer_models.py --part train --seeds 0 1 2 --minutes 15

The model is ../shared/deepracer-models/deepracer-utils-sample/model/model_48.pb (discrete PPO, 12
actions, shallow network, 23.4 MB); the tracks are ../shared/deepracer-tracks/*.npy.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODEL = SHARED / "deepracer-models" / "deepracer-utils-sample" / "model" / "model_48.pb"
TRACKS = ["reinvent_base", "reInvent2019_track", "reInvent2019_wide", "2022_reinvent_champ_ccw", "Vegas_track",
          "Bowtie_track"]

MEASURE = """
import resource, sys, time
started = time.perf_counter()
from racekit.agent.deepracer.importer import import_model
imported = time.perf_counter()
import_model(sys.argv[1], sys.argv[2])
done = time.perf_counter()
print(done - imported, done - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def part_import(runs: int = 3) -> None:
    print(f"importing {MODEL.name} ({MODEL.stat().st_size / 1e6:.1f} MB), each in a fresh process:")
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([sys.executable, "-c", MEASURE, str(MODEL), str(Path(tmp) / "m.onnx")],
                                 capture_output=True, text=True, check=True).stdout.split()
        seconds, total, peak = map(float, out)
        print(f"  run {i}: import_model {seconds:.2f} s (with Python's imports of racekit and torch {total:.2f} s), "
              f"peak memory of the process {peak:.0f} MB")


def part_drive(tracks: list[str], laps: int, seen_as: str) -> None:
    from racekit.agent.deepracer.importer import import_model
    from racekit.agent.evaluate import evaluate
    from racekit.models import open_driver
    from racekit.tracks import load_track

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.onnx"
        import_model(MODEL, model)
        driver = open_driver(str(model))
        camera = dict(driver.camera)
        if seen_as == "racekit":  # the ablation: racekit's own lens, mount and look instead of DeepRacer's
            camera.update(fov_deg=120.0, mount="racekit", look="racekit")
        print(f"{MODEL.name} imported, raced {laps} laps a track through {seen_as}'s camera and look "
              f"({camera}):")
        for name in tracks:
            path = SHARED / "deepracer-tracks" / f"{name}.npy"
            result = evaluate(driver.drive, load_track(str(path)), camera, driver.actions, laps=laps)
            times = ", ".join(f"{t:.1f}" for t in result["lap_times"])
            print(f"  {name:26s} completion {result['completion']:5.1f}%  clean laps {result['clean_laps']}/{laps}  "
                  f"off-tracks {result['offtracks']}  lap times {times or '-'} s")


def part_train(seeds: list[int], minutes: float, track: str, out: Path) -> None:
    rows = []
    for seed in seeds:
        run = out / f"from-sample-seed{seed}"
        command = [sys.executable, "-m", "racekit", "train", "--out", str(run), "--from", str(MODEL),
                   "--track", str(SHARED / "deepracer-tracks" / f"{track}.npy"), "--until-clean", "--minutes",
                   str(minutes), "--eval-every", "10000", "--seed", str(seed), "--quiet"]
        started = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        evaluations = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
        clean = next((e for e in evaluations if e["all_clean"]), None)
        rows.append(clean["wall_seconds"] / 60 if clean else None)
        print(f"  seed {seed}: " + (f"first clean evaluation after {rows[-1]:.1f} min ({clean['global_step']:,} steps, {clean['clean_laps']} clean laps of {clean['mean_lap_time']:.1f} s)"
                                    if clean else f"no clean evaluation in {minutes:g} min") +
              f" [{(time.monotonic() - started) / 60:.1f} min wall]", flush=True)
    done = sorted(r for r in rows if r is not None)
    if done:
        print(f"  median {done[len(done) // 2]:.1f} min, worst "
              f"{'never' if len(done) < len(rows) else f'{done[-1]:.1f} min'} over {len(rows)} seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("import", "drive", "train"), required=True)
    parser.add_argument("--tracks", nargs="+", default=TRACKS)
    parser.add_argument("--laps", type=int, default=3)
    parser.add_argument("--seen-as", choices=("deepracer", "racekit"), default="deepracer",
                        help="--part drive: the camera and look it races through (racekit's: the ablation)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--track", default="reinvent_base", help="--part train: the track to lap cleanly")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "deepracer")
    args = parser.parse_args()
    if not MODEL.is_file():
        raise SystemExit(f"{MODEL}: not here (../shared/deepracer-models)")
    if args.part == "import":
        part_import()
    elif args.part == "drive":
        part_drive(args.tracks, args.laps, args.seen_as)
    else:
        part_train(args.seeds, args.minutes, args.track, args.out)


if __name__ == "__main__":
    main()
