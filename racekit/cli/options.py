"""Options several commands share: sizes written WxH, and a race type with its options."""
from __future__ import annotations

import re

from racekit.cli import UserError
from racekit.sim import MAX_OBJECTS  # racekit.sim itself loads nothing of the simulator

# each race type's own options: (flag, args attribute, race type)
RACE_TYPE_OPTIONS = (("--objects", "objects", "object-avoidance"),
                     ("--object-positions", "object_positions", "object-avoidance"), ("--bots", "bots", "head-to-bot"),
                     ("--bot-speed", "bot_speed", "head-to-bot"), ("--lane-changes", "lane_changes", "head-to-bot"))


def size(value: str, flag: str, example: str = "640x480", smallest: int = 1, largest: int = 4096,
         even: bool = False) -> tuple[int, int]:
    """'640x480' as (640, 480); anything else is one line naming the flag."""
    match = re.fullmatch(r"(\d+)x(\d+)", value.strip().lower())
    if not match:
        raise UserError(f"{flag} must look like {example}, got {value!r}")
    sides = int(match.group(1)), int(match.group(2))
    if not all(smallest <= v <= largest and (v % 2 == 0 or not even) for v in sides):
        raise UserError(f"{flag} must be between {smallest}x{smallest} and {largest}x{largest}"
                        f"{' with even sides' if even else ''}, got {value}")
    return sides


def add_race_type_options(group, race_types) -> None:
    """--race-type and each race type's options, as racekit train and racekit race take them."""
    group.add_argument("--race-type", choices=race_types, default=None,
                       help="time-trial (default); object-avoidance: boxes on the track; head-to-bot: bot cars")
    group.add_argument("--objects", type=int, default=None, metavar="N", help="object avoidance: boxes, 1-10 (default 6)")
    group.add_argument("--object-positions", default=None, metavar="F:LANE,...",
                       help="object avoidance: boxes at fixed places instead of random ones, each a fraction of the "
                            "lap from the start line (0-1) and a lane, e.g. 0.25:left,0.5:right (as many boxes)")
    group.add_argument("--bots", type=int, default=None, metavar="N", help="head-to-bot: bot cars, 1-10 (default 3)")
    group.add_argument("--bot-speed", type=float, default=None, metavar="V", help="head-to-bot: m/s (default 0.2)")
    group.add_argument("--lane-changes", action="store_true", help="head-to-bot: bots change lanes every 3-5 s")


def race_type(args) -> str:
    """The race type asked for (time-trial by default), each of its options checked: only with its own race
    type, and in range."""
    chosen = args.race_type or "time-trial"
    for flag, name, wanted in RACE_TYPE_OPTIONS:
        if getattr(args, name) not in (None, False) and chosen != wanted:
            raise UserError(f"{flag} is for --race-type {wanted}, not {chosen}")
    for flag, value in (("--objects", args.objects), ("--bots", args.bots)):
        if value is not None and not 1 <= value <= MAX_OBJECTS:
            raise UserError(f"{flag} must be from 1 to {MAX_OBJECTS}, got {value}")
    if args.objects is not None and args.object_positions is not None:
        raise UserError("--objects and --object-positions: give one (the positions are the boxes)")
    if args.object_positions is not None:
        object_positions(args.object_positions)
    if args.bot_speed is not None and not 0 < args.bot_speed <= 4.0:
        raise UserError(f"--bot-speed must be more than 0 and at most 4 m/s, got {args.bot_speed:g}")
    return chosen


LANES = {"left": 1, "right": -1}  # the env's lanes: +1 halfway to the left border, -1 to the right


def object_positions(value: str) -> tuple[tuple[float, int], ...]:
    """'0.25:left,0.5:right' as ((0.25, 1), (0.5, -1)); anything else is one line naming the flag."""
    example = "e.g. 0.25:left,0.5:right"
    positions = []
    for item in value.split(","):
        fraction, _, lane = item.strip().partition(":")
        try:
            at = float(fraction)
        except ValueError:
            raise UserError(f"--object-positions: each box is FRACTION:LANE ({example}), "
                            f"got {item.strip()!r}") from None
        if not 0.0 <= at <= 1.0:  # also refuses nan
            raise UserError(f"--object-positions: a fraction of the lap from 0 to 1, got {fraction.strip()}")
        if lane.strip().lower() not in LANES:
            raise UserError(f"--object-positions: the lane is left or right ({example}), got {item.strip()!r}")
        positions.append((at, LANES[lane.strip().lower()]))
    if len(positions) > MAX_OBJECTS:
        raise UserError(f"--object-positions: at most {MAX_OBJECTS} boxes, got {len(positions)}")
    return tuple(positions)


def positions_text(positions) -> str:
    """((0.25, 1), (0.5, -1)) as '0.25:left,0.5:right', as --object-positions takes them."""
    return ",".join(f"{at:g}:{'left' if lane > 0 else 'right'}" for at, lane in positions)
