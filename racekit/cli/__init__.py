"""The `racekit` command line.

Each area of the kit lives in its own `racekit/cli/*.py` module with a
`register(subparsers)` function that adds its commands; a leaf command sets
`func`, a callable taking the parsed args and returning the exit code.
Heavy libraries (torch, pybullet) are imported inside the commands, so
`racekit car ...` runs on a Raspberry Pi without them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from racekit import __version__

COMMAND_MODULES = ["racekit.cli.tracks", "racekit.cli.sim", "racekit.cli.reward", "racekit.cli.car", "racekit.cli.train",
                   "racekit.cli.analyze", "racekit.cli.tune",
                   "racekit.cli.flash", "racekit.cli.race", "racekit.cli.leaderboard"]


class UserError(Exception):
    """A mistake of the user's (bad file, bad option): printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="racekit", description="Learn autonomous racing: simulate, train, race, drive.")
    parser.add_argument("--version", action="version", version=f"racekit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"racekit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("racekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
