"""Ranking runs: one board per track, direction, race type and kind (simulated and physical never mix).

Race types: DeepRacer's time trial, object avoidance and head-to-bot, and head-to-head (two models on the
track at once; each car's run is ranked on the head-to-head board by its own laps, and its heat's
finishing order is kept beside it). A board's key is kind/track/direction, with /race-type after it for
every race type but the time trial (the boards before race types keep their keys).

DeepRacer's standard is the best average of 3 consecutive laps. Ranks:
    average   the best mean of `laps` consecutive completed laps (default 3)
    best-lap  the fastest completed lap (`laps` default 1: at least that many laps done)
    total     the sum of the first `laps` laps (default 3)
A run is ranked only if it finished (not a DNF) and completed at least `laps` laps;
the others are listed below the board with the reason. Lap times already hold the
off-track and crash penalties. Ties go to the earlier run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from racekit.leaderboard.db import RACE_TYPES, Run

RANKS = ("average", "best-lap", "total")
DEFAULT_LAPS = {"average": 3, "best-lap": 1, "total": 3}
RACE_TYPE_TITLES = {"time-trial": "time trial", "object-avoidance": "object avoidance",
                    "head-to-bot": "head-to-bot", "head-to-head": "head-to-head"}
RANK_TITLES = {"average": "best average of {n} consecutive laps", "best-lap": "best lap",
               "total": "total time of the first {n} laps"}


def laps_for(rank: str, laps: int | None) -> int:
    if rank not in RANKS:
        raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}")
    n = DEFAULT_LAPS[rank] if laps is None else laps
    if n < 1:
        raise ValueError(f"laps must be at least 1, got {n}")
    return n


def score(lap_times: list[float], rank: str, laps: int) -> float | None:
    """The run's score in seconds (lower is better), or None if it has too few laps."""
    if len(lap_times) < laps:
        return None
    if rank == "best-lap":
        return min(lap_times)
    if rank == "total":
        return math.fsum(lap_times[:laps])
    return min(math.fsum(lap_times[i:i + laps]) / laps for i in range(len(lap_times) - laps + 1))


DNF_REASONS = {"dnf": "too many resets", "max_steps": "step cap"}  # the env's terminations


def why_unranked(run: Run, laps: int) -> str | None:
    if run.dnf:
        return "DNF" if run.kind == "physical" else f"DNF ({DNF_REASONS.get(run.termination, 'did not finish')})"
    if len(run.lap_times) < laps:
        return f"{len(run.lap_times)} of {laps} laps"
    return None


@dataclass
class Entry:
    run: Run
    position: int | None  # 1-based, None when not ranked
    score: float | None
    reason: str | None  # why it is not ranked


@dataclass
class Board:
    kind: str
    track: str
    direction: str
    rank: str
    laps: int
    entries: list[Entry] = field(default_factory=list)  # ranked ones first, in order
    race_type: str = "time-trial"

    @property
    def title(self) -> str:
        kind = "simulated" if self.kind == "sim" else "physical car, hand-timed"
        return (f"{self.track} ({self.direction}), {RACE_TYPE_TITLES[self.race_type]}, {kind}: "
                f"{RANK_TITLES[self.rank].format(n=self.laps)}")

    @property
    def key(self) -> str:
        tail = "" if self.race_type == "time-trial" else f"/{self.race_type}"
        return f"{self.kind}/{self.track}/{self.direction}{tail}"


def boards(runs: list[Run], rank: str = "average", laps: int | None = None) -> list[Board]:
    """Runs grouped into boards (by track, then direction, then race type; simulated before physical),
    each ranked."""
    n = laps_for(rank, laps)
    groups: dict[tuple[str, str, str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.track, run.direction, run.race_type, run.kind), []).append(run)
    result = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], RACE_TYPES.index(k[2]), k[3] != "sim")):
        track, direction, race_type, kind = key
        board = Board(kind, track, direction, rank, n, race_type=race_type)
        ranked, unranked = [], []
        for run in groups[key]:
            reason = why_unranked(run, n)
            if reason is None:
                ranked.append((score(run.lap_times, rank, n), run.created, run.id or 0, run))
            else:
                unranked.append(Entry(run, None, None, reason))
        ranked.sort(key=lambda item: item[:3])
        board.entries = [Entry(run, i, s, None) for i, (s, _, _, run) in enumerate(ranked, start=1)]
        board.entries += sorted(unranked, key=lambda e: e.run.id or 0)
        result.append(board)
    return result
