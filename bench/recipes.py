"""Training recipes over seeds: does a recipe's figure hold, or was it one lucky draw? (issue 21)

For each recipe (racekit train's own flags, read by its own parser) and each seed, one run of --minutes
(wall clock: run this bench alone on the machine), then:
- minutes and env steps to the first evaluation that drove every lap clean (over the evaluation panel
  for a run on several or generated tracks: agent/train.py's evaluation_panel);
- the last evaluation's clean laps over its laps;
- the run's model as `racekit export` takes it (the best checkpoint) on piccolo, 3 laps under race
  rules: its mean lap as a ratio to the expert driver's under the same rules and speed limit;
- the robustness suite's score (24 held-out conditions, 1 lap each; --no-suite to skip it);
- for SAC (the "sac" recipe: the plain one with --algorithm sac, agent/sac.py), its gradient updates per
  second and its replay ratio (gradient updates per env step), from the run's metrics.csv. Compare it
  with "plain" in env steps to the first clean evaluation too: sample efficiency is SAC's promise.

Every (recipe, seed, minutes) is one JSON line of --results, appended as soon as it is measured; a row
already there is not run again, so a comparison of long runs goes on across sessions and nothing
measured is lost. Then the table: each row, and per recipe the median and the worst.

    .venv/bin/python bench/recipes.py --screen                      # 10 minutes a run: quick comparisons
    .venv/bin/python bench/recipes.py                             # the bars: 30 minutes a run, every recipe
    .venv/bin/python bench/recipes.py --report                      # the table of the rows so far
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import time
from pathlib import Path


from racekit.agent.evaluate import evaluate
from racekit.agent.logbook import read_evaluations
from racekit.agent.train import train
from racekit.cli import build_parser
from racekit.cli.train import new_run_config
from racekit.models import open_driver
from racekit.recipes import FORMER_FLAGS, ROBUST_FLAGS
from racekit.suite import race_suite
from racekit.tracks import DEFAULT_TRACK
from robustness import expert_lap_time  # bench/robustness.py's: the expert under race rules, same speed limit

ROOT = Path(__file__).resolve().parents[1]
REWARD = ROOT / "examples" / "rewards" / "speed_along_track.py"
RESULTS = ROOT / "bench" / "results" / "recipes.jsonl"
ROBUST = list(ROBUST_FLAGS)
# racekit train's PPO defaults until 2026-12-06 (agent/ppo.py's FORMER): the rows measured before the measured
# recipe became the defaults name them, so that a row says what it trained with
FORMER = list(FORMER_FLAGS)
RECIPES = {
    "plain": [],  # racekit train's defaults on the default track, the project's best example reward
    "plain-gaussian": ["--distribution", "gaussian", *FORMER],  # the defaults before them
    "plain-beta": ["--distribution", "beta", *FORMER],
    "robust": [*ROBUST, "--distribution", "gaussian", *FORMER],  # the README's recipe for a physical car until
    "robust-beta": [*ROBUST, "--distribution", "beta", *FORMER],  # ... this one replaced it
    "robust-defaults": ROBUST,  # the robust flags with today's defaults: the recipe for a car
    "sac": ["--algorithm", "sac"],  # the plain recipe with SAC (agent/sac.py) instead of PPO
}


def piccolo_lap(evaluation: dict | None) -> float | None:
    """An evaluation's mean lap on piccolo, forwards: the evaluation itself, or its panel's piccolo entry."""
    entries = (evaluation or {}).get("panel") or ([evaluation] if evaluation else [])
    own = next((e for e in entries if e["track"] == DEFAULT_TRACK and not e.get("reverse")), None)
    return own["mean_lap_time"] if own else None


def last_ratio(row: dict, out: Path) -> float | None:
    """The last evaluation's piccolo lap over the expert's (from the run folder for rows from before it)."""
    if "last_ratio" in row:
        return row["last_ratio"]
    run_dir = out / run_name(row["recipe"], row["seed"], row["minutes"])
    evals = read_evaluations(run_dir) if run_dir.is_dir() else []
    lap = piccolo_lap(evals[-1] if evals else None)
    return round(lap / row["expert_lap"], 3) if lap else None


def run_name(recipe: str, seed: int, minutes: float) -> str:
    return f"{recipe}-seed{seed}-{minutes:g}min"


def measure(recipe: str, seed: int, minutes: float, out: Path, suite: bool, expert: float) -> dict:
    """Train one run and measure it; returns its row."""
    run_dir = out / run_name(recipe, seed, minutes)
    shutil.rmtree(run_dir, ignore_errors=True)
    line = ["train", "--out", str(run_dir), "--reward", str(REWARD), "--seed", str(seed), "--minutes", str(minutes),
            "--no-simtrace", *RECIPES[recipe]]
    cfg = new_run_config(build_parser().parse_args(line))
    started = time.monotonic()
    summary = train(run_dir, cfg, quiet=True)
    if summary["outcome"] == "interrupted":  # stopped before its minutes: not a row of the bench
        raise SystemExit(f"bench/recipes.py: {run_dir} was interrupted; no row written")
    trained_min = (time.monotonic() - started) / 60
    evals = read_evaluations(run_dir)
    clean = next((e for e in evals if e["all_clean"]), None)
    last = evals[-1] if evals else None
    driver = open_driver(str(run_dir))  # the best checkpoint, else the last: what racekit export takes
    lap = evaluate(driver.drive, DEFAULT_TRACK, driver.camera, driver.actions, laps=3)
    row = {"recipe": recipe, "seed": seed, "minutes": minutes, "flags": RECIPES[recipe],
           "env_steps": summary["global_step"], "trained_minutes": round(trained_min, 2),
           "steps_per_second": round(summary["global_step"] / (trained_min * 60), 1),
           "minutes_to_clean": round(clean["wall_seconds"] / 60, 2) if clean else None,
           "steps_to_clean": clean["global_step"] if clean else None,
           "evaluations": len(evals), "clean_evaluations": sum(e["all_clean"] for e in evals),
           "last_clean_laps": last["clean_laps"] if last else 0, "last_laps": last["laps"] if last else 0,
           "last_ratio": round(piccolo_lap(last) / expert, 3) if piccolo_lap(last) else None,
           "piccolo_clean_laps": lap["clean_laps"], "piccolo_mean_lap": lap["mean_lap_time"],
           "piccolo_ratio": round(lap["mean_lap_time"] / expert, 3) if lap["mean_lap_time"] else None,
           "expert_lap": round(expert, 3), "suite_score": None,
           "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    row.update(sac_figures(run_dir))
    if suite:
        result = race_suite(str(run_dir), progress=lambda _line: None).result
        row.update(suite_score=round(result["score"], 4), suite_clean_laps=result["clean_laps"],
                   suite_laps=result["laps"])
    return row


def sac_figures(run_dir: Path) -> dict:
    """A SAC run's gradient updates, their rate (the last row's: the session's mean) and its replay ratio
    (updates per env step); {} for a PPO run."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return {}
    with path.open() as fh:
        rows = [row for row in csv.DictReader(fh) if row.get("gradient_updates")]
    if not rows:
        return {}
    last = rows[-1]
    rate = float(last["updates_per_second"]) if last.get("updates_per_second") else None
    return {"gradient_updates": int(last["gradient_updates"]), "updates_per_second": rate,
            "replay_ratio": float(last["replay_ratio"])}


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def fmt(value, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def entropy(run_dir: Path) -> str:
    """The policy's entropy at the run's first and last update (metrics.csv), where the run folder is kept:
    a Gaussian whose entropy does not fall keeps sampling the whole steering range."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return "-"
    with path.open() as fh:
        values = [float(row["entropy"]) for row in csv.DictReader(fh) if row.get("entropy")]
    return f"{values[0]:.2f}>{values[-1]:.2f}" if values else "-"


def report(rows: list[dict], minutes: float | None, out: Path) -> None:
    """Each row, then per recipe the median and the worst (a run that never got clean counts as the worst)."""
    rows = [r for r in rows if minutes is None or r["minutes"] == minutes]
    header = (f"{'recipe':<14} {'min':>4} {'seed':>4} {'to clean':>9} {'clean evals':>11} {'last clean':>10} "
              f"{'last/expert':>11} {'model/expert':>12} {'suite':>6} {'steps/s':>7} {'entropy':>11} "
              f"{'steps to clean':>14} {'upd/s':>6} {'replay':>6}")
    print(header)
    for (recipe, budget) in sorted({(r["recipe"], r["minutes"]) for r in rows}):
        mine = sorted((r for r in rows if (r["recipe"], r["minutes"]) == (recipe, budget)), key=lambda r: r["seed"])
        for r in mine:
            print(f"{recipe:<14} {budget:>4g} {r['seed']:>4} {fmt(r['minutes_to_clean'], '{:.1f} min'):>9} "
                  f"{r['clean_evaluations']:>5}/{r['evaluations']:<5} {r['last_clean_laps']:>4}/{r['last_laps']:<5} "
                  f"{fmt(last_ratio(r, out), '{:.3f}'):>11} "
                  f"{fmt(r['piccolo_ratio'], '{:.3f}'):>12} {fmt(r['suite_score'], '{:.1%}'):>6} "
                  f"{r['steps_per_second']:>7.0f} {entropy(out / run_name(recipe, r['seed'], budget)):>11} "
                  f"{fmt(r.get('steps_to_clean'), '{:,}'):>14} {fmt(r.get('updates_per_second'), '{:.1f}'):>6} "
                  f"{fmt(r.get('replay_ratio'), '{:.3f}'):>6}")
        to_clean = [r["minutes_to_clean"] if r["minutes_to_clean"] is not None else float("inf") for r in mine]
        ratios = [r["piccolo_ratio"] if r["piccolo_ratio"] is not None else float("inf") for r in mine]
        lasts = [float("inf") if ratio is None else ratio for ratio in (last_ratio(r, out) for r in mine)]
        suites = [r["suite_score"] for r in mine if r["suite_score"] is not None]
        print(f"{'':<14} {'':>4} {'med':>4} {fmt(_finite(statistics.median(to_clean)), '{:.1f} min'):>9} "
              f"{'':>11} {'':>10} {fmt(_finite(statistics.median(lasts)), '{:.3f}'):>11} "
              f"{fmt(_finite(statistics.median(ratios)), '{:.3f}'):>12} "
              f"{fmt(statistics.median(suites) if suites else None, '{:.1%}'):>6}")
        print(f"{'':<14} {'':>4} {'worst':>4} {fmt(_finite(max(to_clean)), '{:.1f} min'):>9} {'':>11} {'':>10} "
              f"{fmt(_finite(max(lasts)), '{:.3f}'):>11} {fmt(_finite(max(ratios)), '{:.3f}'):>12} "
              f"{fmt(min(suites) if suites else None, '{:.1%}'):>6}")


def _finite(value: float) -> float | None:
    return None if value == float("inf") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=["plain", "robust", "robust-beta"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=30.0, help="training per run (default 30)")
    parser.add_argument("--screen", action="store_true",
                        help="screening: 10 minutes a run, the robust recipe beside its Beta variant")
    parser.add_argument("--no-suite", action="store_true", help="skip the robustness suite")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"rows file (default {RESULTS})")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "recipes", help="folder for the runs")
    parser.add_argument("--report", action="store_true", help="print the table of the rows so far; train nothing")
    args = parser.parse_args()
    if args.screen:
        args.minutes = 10.0
        if args.recipes == parser.get_default("recipes"):
            args.recipes = ["robust", "robust-beta"]
    if args.report:
        report(read_rows(args.results), None, args.out)
        return
    args.results.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["recipe"], r["seed"], r["minutes"]) for r in read_rows(args.results)}
    expert = expert_lap_time()
    todo = [(recipe, seed) for recipe in args.recipes for seed in args.seeds
            if (recipe, seed, args.minutes) not in done]
    print(f"expert's mean lap on {DEFAULT_TRACK}: {expert:.2f} s; {len(todo)} runs of {args.minutes:g} min to go "
          f"({len(args.recipes) * len(args.seeds) - len(todo)} already in {args.results})", flush=True)
    for recipe, seed in todo:
        row = measure(recipe, seed, args.minutes, args.out, not args.no_suite, expert)
        with args.results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        sac = (f", {fmt(row.get('updates_per_second'), '{:.1f}')} updates/s, replay ratio "
               f"{fmt(row.get('replay_ratio'), '{:.3f}')}" if "replay_ratio" in row else "")
        print(f"{recipe} seed {seed}: to clean {fmt(row['minutes_to_clean'], '{:.1f} min')} "
              f"({fmt(row['steps_to_clean'], '{:,}')} steps), piccolo/expert {fmt(row['piccolo_ratio'], '{:.3f}')}, "
              f"suite {fmt(row['suite_score'], '{:.1%}')}{sac}", flush=True)
    report(read_rows(args.results), args.minutes, args.out)


if __name__ == "__main__":
    main()
