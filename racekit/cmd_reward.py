"""`racekit reward check FILE [--track TRACK]`: try a reward function before training with it."""
from __future__ import annotations

import sys

from racekit.cli import UserError


def register(subparsers) -> None:
    reward = subparsers.add_parser("reward", help="reward functions")
    sub = reward.add_subparsers(dest="reward_command", required=True)
    check = sub.add_parser("check", help="run a reward file on DeepRacer's 5 validation states and 200 sim steps")
    check.add_argument("file", help="a Python file defining reward_function(params)")
    check.add_argument("--track", default=None, help="built-in track name or track file (default: the default track)")
    check.add_argument("--steps", type=int, default=200, help="real simulator steps to score (default 200)")
    check.set_defaults(func=run_check)


def run_check(args) -> int:
    from racekit.sim.check import check_reward
    from racekit.sim.reward import RewardError, load_reward
    from racekit.tracks import DEFAULT_TRACK

    from racekit.tracking import track_argument

    track = args.track or DEFAULT_TRACK
    track_argument(track)  # a bad track is the user's error, not the reward file's
    try:
        reward = load_reward(args.file)
        report = check_reward(reward, track, sim_steps=args.steps)
    except RewardError as exc:
        raise UserError(str(exc)) from None
    print(f"{args.file} (sha256 {reward.sha256[:12]}) on {track}")
    for name, value in report.states.items():
        print(f"  {name:<10} {value:.4g}")
    print(f"  {len(report.sim_rewards)} sim steps of the expert driver: {report.summary()}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("ok: every call returned a finite number")
    return 0
