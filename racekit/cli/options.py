"""Options several commands share: sizes written WxH, and a race type with its options."""
from __future__ import annotations

import re

from racekit.cli import UserError
from racekit.sim import MAX_OBJECTS  # racekit.sim itself loads nothing of the simulator

# each race type's own options: (flag, args attribute, race type)
RACE_TYPE_OPTIONS = (("--objects", "objects", "object-avoidance"), ("--bots", "bots", "head-to-bot"),
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
    if args.bot_speed is not None and not 0 < args.bot_speed <= 4.0:
        raise UserError(f"--bot-speed must be more than 0 and at most 4 m/s, got {args.bot_speed:g}")
    return chosen
