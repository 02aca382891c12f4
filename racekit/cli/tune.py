"""`racekit tune`: a hyperparameter search over PPO settings with Ray Tune (agent/tune.py)."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from racekit.cli import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tune", help="search PPO settings with Ray Tune: each trial a racekit train run, poor ones stopped early",
        description="Each trial is a `racekit train` run in OUT/trial-ID with its own learning rate, entropy, "
                    "discount, minibatch, epochs and rollout length; Tune's ASHA scheduler stops trials whose "
                    "evaluation score (completion, then lap time) falls behind. Options after -- go to every "
                    "trial's racekit train (e.g. -- --camera 48x36 --envs 2).")
    p.add_argument("--track", action="append", default=None, help="as racekit train (repeat for several)")
    p.add_argument("--reward", required=True, help="reward file")
    p.add_argument("--trials", type=int, default=8, help="trials to run (default 8)")
    p.add_argument("--minutes", type=float, required=True, help="wall-clock budget of each trial")
    p.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="the search's and every trial's seed (default 0)")
    p.add_argument("--out", default="runs/tune", help="folder of the trials' run directories (default runs/tune)")
    p.add_argument("--ray", default="local", metavar="ADDRESS",
                   help="'local' (default: start Ray here, stop it at the end), 'auto' or HOST:PORT; on a cluster "
                        "--out must be a folder every node shares")
    p.add_argument("--cpus-per-trial", type=float, default=None,
                   help="CPUs Ray gives each trial (default: all of this machine's, one trial at a time)")
    p.add_argument("train_args", nargs="*", metavar="-- TRAIN_OPTION",
                   help="more racekit train options for every trial, after --")
    p.set_defaults(func=run_tune)


def run_tune(args) -> int:
    from racekit.agent.tune import SEARCH_SPACE, run_search, train_command

    for flag, value, low in (("--trials", args.trials, 1), ("--eval-every", args.eval_every, 1)):
        if value < low:
            raise UserError(f"{flag} must be at least {low}, got {value}")
    if not args.minutes > 0:
        raise UserError(f"--minutes must be more than 0, got {args.minutes:g}")
    reward = Path(args.reward)
    if not reward.is_file():
        raise UserError(f"reward file not found: {reward}")
    tuned = [a for a in args.train_args if a.split("=")[0] in SEARCH_SPACE or a.split("=")[0] in
             ("--out", "--resume", "--minutes", "--seed", "--eval-every", "--ray")]
    if tuned:
        raise UserError(f"{tuned[0]} after -- is set by racekit tune itself")
    try:
        import ray  # noqa: F401
        import ray.tune  # noqa: F401
    except ImportError:
        raise UserError('racekit tune needs Ray Tune, which is not installed: pip install "racekit[ray]"') from None
    base = [*(part for t in (args.track or []) for part in ("--track", t)), "--reward", str(reward.resolve()),
            "--minutes", f"{args.minutes:g}", "--steps", "100000000", "--eval-every", str(args.eval_every),
            "--seed", str(args.seed), "--quiet", *args.train_args]
    check_train_options(base)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cpus = args.cpus_per_trial if args.cpus_per_trial is not None else float(os.cpu_count() or 1)
    print(f"racekit tune: {args.trials} trials of {args.minutes:g} min each, {cpus:g} CPU(s) per trial; "
          f"runs in {out}/trial-*", flush=True)
    rows = run_search(base, out.resolve(), args.trials, args.seed, cpus, args.ray)
    print(f"{'best score':>10} {'evals':>5}  {'status':<14} {'trial':<18} settings")
    for row in rows:
        status = "error" if row["error"] else "stopped early" if row["stopped_early"] else "ran its budget"
        best = "-" if row["best_score"] is None else f"{row['best_score']:.1f}"
        settings = " ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row["settings"].items())
        name = Path(row["run_dir"]).name if row["run_dir"] else "-"
        print(f"{best:>10} {row['evaluations']:>5}  {status:<14} {name:<18} {settings}"
              + (f"  ({row['error']})" if row["error"] else ""))
    ranked = [r for r in rows if r["best_score"] is not None]
    if not ranked:
        raise UserError("no trial reached an evaluation: give the trials more --minutes or a smaller --eval-every")
    best = ranked[0]
    print(f"best: score {best['best_score']:.1f} (completion %, or 100 + 100/mean lap s once every lap is "
          f"completed), run {best['run_dir']}")
    line = train_command([a for a in base if a != "--quiet"], best["settings"], Path("runs/best"))
    print("reproduce: " + shlex.join(line))
    return 0


def check_train_options(base: list[str]) -> None:
    """The trials' racekit train options, parsed as racekit train parses them: a mistake is one line now,
    not one per trial."""
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config

    try:
        parsed = build_parser().parse_args(["train", "--out", "unused", *base])
    except SystemExit:
        raise UserError("the options for racekit train after -- are not valid (see racekit train --help)") from None
    new_run_config(parsed)
