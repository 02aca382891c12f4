"""`racekit reward check FILE [--track TRACK] [--race-type TYPE]`: try a reward function before training with it."""
from __future__ import annotations

import sys

from racekit.cli import UserError
from racekit.sim import RACE_TYPES  # racekit.sim itself loads nothing of the simulator


def register(subparsers) -> None:
    reward = subparsers.add_parser("reward", help="reward functions")
    sub = reward.add_subparsers(dest="reward_command", required=True)
    check = sub.add_parser("check", help="run a reward file on DeepRacer's 5 validation states and 200 sim steps")
    check.add_argument("file", help="a Python file defining reward_function(params)")
    check.add_argument("--track", default=None, help="built-in track name or track file (default: the default track)")
    check.add_argument("--steps", type=int, default=200, help="real simulator steps to score (default 200)")
    check.add_argument("--race-type", default="time-trial", choices=RACE_TYPES,
                       help="check with this race type's objects: boxes (object-avoidance) or bot cars "
                            "(head-to-bot); default time-trial")
    check.set_defaults(func=run_check)


def run_check(args) -> int:
    from racekit.sim.check import check_reward
    from racekit.sim.objects import ObjectOptions
    from racekit.sim.reward import load_reward
    from racekit.tracks import DEFAULT_TRACK, load_track

    track = args.track or DEFAULT_TRACK
    loaded = load_track(track)  # a bad track is the user's error (TrackError), not the reward file's
    try:  # as is one too short for the race's objects
        ObjectOptions(args.race_type).check_fits(loaded)
    except ValueError as exc:
        raise UserError(f"{track}: {exc}") from None
    reward = load_reward(args.file)  # RewardError, one line naming the file and line
    for note in reward.notes:
        print(f"warning: {note}", file=sys.stderr)
    report = check_reward(reward, track, sim_steps=args.steps, race_type=args.race_type)
    race = "" if args.race_type == "time-trial" else f", {args.race_type}"
    print(f"{args.file} (sha256 {reward.sha256[:12]}) on {track}{race}")
    for name, value in report.states.items():
        print(f"  {name:<10} {value:.4g}")
    print(f"  {len(report.sim_rewards)} sim steps of the expert driver: {report.summary()}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("ok: every call returned a finite number")
    return 0
