"""How fast does racekit learn object avoidance from pixels, and how often does it crash?

For each seed: PPO on the default track with 6 boxes placed anew each episode
(DeepRacer's object-avoidance setup, sim/objects.py) and the project's object-
avoidance reward, for up to --minutes of wall-clock time, an evaluation every
--eval-every env steps (greedy policy, 3 laps under race rules with the boxes of
the evaluation's seed; head-to-bot: --eval-placements placements of the bots, so that the best checkpoint is
clean past more than one). Reports the minutes and env steps to the first evaluation
with 3 laps and no crash or off-track, and the crash rate per lap at each
evaluation. Then one head-to-bot run (3 bot cars, seed the first of --seeds; with --bots-only one for each
seed and no object avoidance) for the same budget, reporting
its crashes per lap at each evaluation. The head-to-bot run keeps each evaluation's checkpoint; after the
budget the last --validate-last (15) of them race --validation-races (40) races of 3 laps on validation
placements (seeds 50, 51, ...: neither an evaluation's nor a final race's), and the one with the fewest crashes
per lap driven (the later of a tie) is the `validated` checkpoint. Then the best, last and validated checkpoints,
exported (racekit's model file), race --bot-races (50) head-to-bot races of 3 laps under race rules (bots placed
by seeds 100, 101, ..., none an evaluation or a validation races), whose crashes per lap driven are the
head-to-bot figure (goal with sensors, issue 24: under 0.03). Validation and final races run in two processes.

The bar (issue 11): 2 of 3 seeds reach a clean evaluation within 30 minutes;
beyond that, 3 of 3 within 15 minutes. With --sensor (issue 24), the car's sensors (sim/sensors.py), e.g.
`--sensor stereo-cameras --sensor lidar`: the goal is a clean evaluation in half the front camera's time.
Each object-avoidance run is a row of bench/results/object_avoidance.jsonl.

    .venv/bin/python bench/object_avoidance.py [--seeds 0 1 2] [--minutes 30] [--max-speed 3] [--no-bots]
        [--bots-only] [--bot-races 50] [--eval-placements 4] [--validate-last 15] [--validation-races 40]
        [--sensor front-camera ...]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from racekit.agent.export import export_onnx
from racekit.agent.logbook import read_evaluations
from racekit.agent.train import RunConfig, train
from racekit.racing import Rules, check_model, race
from racekit.sim.sensors import check_sensors
from racekit.tracks import DEFAULT_TRACK, load_track

ROOT = Path(__file__).resolve().parents[1]
OBJECT_REWARD = ROOT / "examples" / "rewards" / "pass_on_the_free_side.py"
BOT_REWARD = ROOT / "examples" / "rewards" / "overtake_bots.py"
RESULTS = ROOT / "bench" / "results" / "object_avoidance.jsonl"
FIRST_RACE_SEED = 100  # the final races' bots: past the placements evaluations race (seeds 0 to --eval-placements)
FIRST_VALIDATION_SEED = 50  # the validation races' bots: past the evaluations' (at most 50), before the final races'


def run(run_dir: Path, race_type: str, reward: Path, seed: int, minutes: float, eval_every: int,
        stop_when_clean: bool, max_speed: float, sensors=("front-camera",), eval_placements: int = 1,
        keep_checkpoints: bool = False) -> list[dict]:
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = RunConfig(track=DEFAULT_TRACK, reward=str(reward), steps=10_000_000, seed=seed, minutes=minutes,
                    eval_every=eval_every, eval_placements=eval_placements, stop_when_clean=stop_when_clean,
                    keep_checkpoints=keep_checkpoints,
                    race_type=race_type, speed_range=(0.5, max_speed), sensors=list(check_sensors(sensors)))
    train(run_dir, cfg, quiet=True)
    return read_evaluations(run_dir)


def crash_rates(evals: list[dict]) -> str:
    """Crashes per lap driven (laps x completion) at each evaluation, with its minute and completion."""
    rows = []
    for e in evals:
        laps_driven = e["laps"] * e["completion"] / 100
        rows.append(f"{e['wall_seconds'] / 60:.1f} min: {e['crashes'] / max(laps_driven, 1e-9):.1f} "
                    f"({e['crashes']} crashes, {e['completion']:.0f}% of {e['laps']} laps)")
    return "; ".join(rows)


def race_bots(run_dir: Path, which: str, first_seed: int, races: int) -> dict:
    """The run's checkpoint `which` (best, last or step-N) exported and raced head-to-bot `races` times (3 laps,
    bots from seeds first_seed, first_seed + 1, ...): its crashes, laps driven (finished laps and the unfinished
    one's part) and DNFs."""
    model = run_dir / f"{which}.onnx"
    export_onnx(run_dir / "checkpoints" / f"{which}.pt", model)
    entrant, track = check_model(model), load_track(DEFAULT_TRACK)
    crashes, laps, dnfs = 0, 0.0, 0
    for seed in range(first_seed, first_seed + races):
        rules = Rules(race_type="head-to-bot", laps=3, seed=seed)
        outcome = race(entrant, track, rules)
        crashes += outcome.crashes
        laps += outcome.laps_driven
        dnfs += outcome.dnf
    return {"checkpoint": which, "races": races, "crashes": crashes, "laps_driven": round(laps, 2), "dnfs": dnfs,
            "crashes_per_lap": round(crashes / max(laps, 1e-9), 4)}


def race_all(run_dir: Path, names: list[str], first_seed: int, races: int) -> list[dict]:
    """race_bots for each checkpoint, two at a time (one process per core)."""
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        return list(pool.map(race_bots, [run_dir] * len(names), names, [first_seed] * len(names),
                             [races] * len(names)))


def validate(run_dir: Path, last: int, races: int) -> tuple[str, list[dict]]:
    """The kept checkpoint with the fewest crashes per lap in `races` validation races (the later of a tie),
    among the run's `last` latest; and each one's result."""
    steps = sorted(int(p.stem.removeprefix("step-")) for p in (run_dir / "checkpoints").glob("step-*.pt"))
    results = race_all(run_dir, [f"step-{step}" for step in steps[-last:]], FIRST_VALIDATION_SEED, races)
    chosen = min(reversed(results), key=lambda r: r["crashes_per_lap"])  # reversed: min keeps the first, the later
    return chosen["checkpoint"], results


def write_row(row: dict, run_dir: Path) -> None:
    """Append a result, with the reward its run trained on: the file's name and the hash the run recorded at
    its start (config.json), as the example rewards change between benches."""
    config = json.loads((run_dir / "config.json").read_text())
    row["reward"], row["reward_sha256"] = Path(config["run"]["reward"]).name, config["reward_sha256"][:12]
    row["measured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget per run")
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--max-speed", type=float, default=3.0, help="top of the speed range, m/s")
    parser.add_argument("--no-bots", action="store_true", help="skip the head-to-bot run")
    parser.add_argument("--bots-only", action="store_true", help="only head-to-bot runs, one for each seed")
    parser.add_argument("--bot-races", type=int, default=50, help="3-lap races of the head-to-bot model")
    parser.add_argument("--eval-placements", type=int, default=4, choices=range(1, FIRST_VALIDATION_SEED + 1),
                        metavar="N",
                        help="head-to-bot: bot placements each evaluation races, 3 laps each")
    parser.add_argument("--validate-last", type=int, default=15, metavar="N",
                        help="head-to-bot: the latest evaluations' checkpoints that validation races")
    parser.add_argument("--validation-races", type=int, default=40, choices=range(1, FIRST_RACE_SEED -
                                                                                   FIRST_VALIDATION_SEED + 1),
                        metavar="N", help="head-to-bot: 3-lap validation races of each checkpoint (at most 50)")
    parser.add_argument("--sensor", action="append", default=None, help="the car's sensors (default front-camera)")
    args = parser.parse_args()
    if args.validate_last < 1:
        parser.error(f"--validate-last must be at least 1, got {args.validate_last}")
    if args.no_bots and args.bots_only:
        parser.error("--no-bots and --bots-only leave nothing to run")
    sensors = check_sensors(args.sensor or ["front-camera"])
    scratch = Path(tempfile.mkdtemp(prefix="racekit-bench-objects-"))
    task = (f"3 bots, reward {BOT_REWARD.name}" if args.bots_only
            else f"6 boxes, reward {OBJECT_REWARD.name}")
    print(f"sensors {', '.join(sensors)}, track {DEFAULT_TRACK}, {task}, speed 0.5-{args.max_speed:g} m/s, "
          f"{args.minutes:g} min per seed, runs in {scratch}", flush=True)
    successes = 0
    for seed in [] if args.bots_only else args.seeds:
        run_dir = scratch / f"objects-seed{seed}"
        evals = run(run_dir, "object-avoidance", OBJECT_REWARD, seed, args.minutes,
                    args.eval_every, stop_when_clean=True, max_speed=args.max_speed, sensors=sensors)
        clean = next((e for e in evals if e["all_clean"]), None)
        row = {"sensors": list(sensors), "seed": seed, "minutes": args.minutes, "max_speed": args.max_speed,
               "minutes_to_clean": round(clean["wall_seconds"] / 60, 2) if clean else None,
               "steps_to_clean": clean["global_step"] if clean else None, "evaluations": len(evals)}
        write_row(row, run_dir)
        if clean:
            successes += 1
            print(f"seed {seed}: 3 laps without a crash or off-track after {clean['wall_seconds'] / 60:.1f} min, "
                  f"{clean['global_step']} env steps", flush=True)
        else:
            print(f"seed {seed}: no clean evaluation within {args.minutes:g} min", flush=True)
        print(f"  crashes per lap at each evaluation: {crash_rates(evals) or '-'}", flush=True)
    if not args.bots_only:
        print(f"object avoidance: {successes}/{len(args.seeds)} seeds clean within {args.minutes:g} min "
              f"(bar: 2 of 3 within 30 min): {'PASS' if successes >= 2 and args.minutes <= 30 else 'FAIL'}")
    bot_seeds = [] if args.no_bots else args.seeds if args.bots_only else args.seeds[:1]
    for seed in bot_seeds:
        run_dir = scratch / f"bots-seed{seed}"
        evals = run(run_dir, "head-to-bot", BOT_REWARD, seed, args.minutes, args.eval_every,
                    stop_when_clean=False, max_speed=args.max_speed, sensors=sensors,
                    eval_placements=args.eval_placements, keep_checkpoints=True)
        print(f"head-to-bot (3 bots, reward {BOT_REWARD.name}), seed {seed}, {args.minutes:g} min: "
              f"crashes per lap at each evaluation: {crash_rates(evals) or '-'}", flush=True)
        validated, checked = validate(run_dir, args.validate_last, args.validation_races)
        print(f"  validation, {args.validation_races} races of 3 laps (seeds {FIRST_VALIDATION_SEED}+): " + ", ".join(
            f"{r['checkpoint']} {r['crashes_per_lap']:.3f}" for r in checked) + f"; validated: {validated}", flush=True)
        for result in race_all(run_dir, ["best", "last", validated], FIRST_RACE_SEED, args.bot_races):
            which = "validated" if result["checkpoint"] == validated else result["checkpoint"]
            write_row({"sensors": list(sensors), "race_type": "head-to-bot", "seed": seed, "minutes": args.minutes,
                       "max_speed": args.max_speed, "evaluations": len(evals),
                       "eval_placements": args.eval_placements, "race_seeds": f"{FIRST_RACE_SEED}+", **result,
                       "checkpoint": which, "step": result["checkpoint"] if which == "validated" else None,
                       **({"validation": {"races": args.validation_races, "checkpoints": len(checked)}}
                          if which == "validated" else {})}, run_dir)
            print(f"  {which} checkpoint, {result['races']} races of 3 laps: {result['crashes']} crashes in "
                  f"{result['laps_driven']:g} laps driven ({result['crashes_per_lap']:.3f} per lap, goal under "
                  f"0.03), {result['dnfs']} DNF", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
