"""The `racekit` command line: a thin layer over racekit's library.

Each area of the kit has its own module here (racekit/cli/tracks.py, train.py, race.py, ...) with a
`register(subparsers)` function that adds its commands; a leaf command sets `func`, a callable taking
the parsed args and returning the exit code. A command parses, calls the library and prints; nothing
below the command line imports it. Heavy libraries (torch, pybullet) are imported inside the commands,
so `racekit car ...` runs on a Raspberry Pi without them.

Errors are turned into one line here, in one place: the command line's own UserError (a bad option),
and every exception class racekit's library defines (TrackError, RewardError, ModelError, CheckpointError,
LeaderboardError, RaceError, ...): each is a mistake the user can act on, its message one line naming
the file, line or field. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from racekit import __version__

COMMAND_MODULES = ["tracks", "sim", "reward", "car", "train", "evaluate", "export", "analyze", "tune", "flash", "race",
                   "leaderboard", "models", "console"]


class UserError(Exception):
    """A mistake of the user's (bad option, options that do not go together): printed as one line, exit code 2."""


def is_library_error(exc: BaseException) -> bool:
    """An exception class of racekit's own (racekit.*, named ...Error), or a subclass of one."""
    return any(cls.__module__.startswith("racekit.") and cls.__name__.endswith("Error")
               for cls in type(exc).__mro__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="racekit", description="Learn autonomous racing: simulate, train, race, drive.")
    parser.add_argument("--version", action="version", version=f"racekit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"racekit.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("racekit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_library_error(exc):
            raise
        print(f"racekit: error: {exc}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """The first line of an error's message (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
