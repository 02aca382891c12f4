"""The robustness suite for a model: agent/robustness.py's held-out conditions raced by a run or model file,
written as JSON and a picture, and optionally stored with the model's file on the leaderboard.

The command line (`racekit evaluate MODEL --suite robustness`) checks its options and prints; this module
does the work, so the benches and the console run the same suite.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from racekit.models import Driver, open_driver


@dataclass
class SuiteRun:
    """What `race_suite` raced and its result (agent.robustness.run_suite's dict)."""

    driver: Driver
    track: object  # tracks.Track: the base track of the conditions
    result: dict


def base_track(driver: Driver, track: str | None = None) -> str:
    """The suite's base track: the one asked for, else the track the model calls its own: the one it was
    trained on, the first named one of several, the default track for a model trained on generated tracks
    alone (not the first generated track it happened to drive)."""
    from racekit.agent.schedule import home_track
    from racekit.tracks import DEFAULT_TRACK

    return track or home_track(driver.tracks or [driver.track], DEFAULT_TRACK)


def race_suite(model: str, checkpoint: str | None = None, track: str | None = None, laps: int = 1,
               conditions: str | None = None, progress: Callable = print,
               on_start: Callable | None = None) -> SuiteRun:
    """Race the suite (or the `conditions` named, comma-separated). on_start(driver, track) is called once
    both are open, before the first race."""
    from racekit.agent import robustness
    from racekit.tracks import load_track

    driver = open_driver(model, checkpoint)
    base = load_track(base_track(driver, track))
    if on_start is not None:
        on_start(driver, base)
    result = robustness.run_suite(driver.drive, driver.camera, driver.actions, base, laps=laps, names=conditions,
                                  progress=progress)
    return SuiteRun(driver, base, result)


def store_score(db: str | Path | None, model: str | Path, result: dict) -> tuple[str, Path]:
    """Store the suite's score with the model file (by its sha256) on the leaderboard; returns the sha256
    and the leaderboard's file."""
    from racekit.leaderboard.db import open_board
    from racekit.racing import file_sha256  # the sha256 a race stores the model file by

    sha = file_sha256(Path(model))
    with open_board(db) as board:
        board.set_suite_score(sha, result["score"], result["clean_laps"], result["laps"],
                              [{k: r[k] for k in ("name", "kind", "laps", "clean_laps", "offtracks")}
                               for r in result["rows"]])
        return sha, board.path
