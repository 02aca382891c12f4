"""Ranking runs: one board per track, direction and kind (simulated and physical never mix).

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

from racekit.leaderboard.db import Run

RANKS = ("average", "best-lap", "total")
DEFAULT_LAPS = {"average": 3, "best-lap": 1, "total": 3}
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

    @property
    def title(self) -> str:
        kind = "simulated" if self.kind == "sim" else "physical car, hand-timed"
        return f"{self.track} ({self.direction}), {kind}: {RANK_TITLES[self.rank].format(n=self.laps)}"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.track}/{self.direction}"


def boards(runs: list[Run], rank: str = "average", laps: int | None = None) -> list[Board]:
    """Runs grouped into boards (by track, then direction; simulated before physical), each ranked."""
    n = laps_for(rank, laps)
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.track, run.direction, run.kind), []).append(run)
    result = []
    for (track, direction, kind) in sorted(groups, key=lambda k: (k[0], k[1], k[2] != "sim")):
        board = Board(kind, track, direction, rank, n)
        ranked, unranked = [], []
        for run in groups[(track, direction, kind)]:
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
