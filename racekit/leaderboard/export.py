"""The leaderboard as CSV or JSON: every run, with its board's position and score.

JSON keeps lists and the model metadata as they are; CSV has one flat row per run,
lap times joined with ';' (a spreadsheet splits them easily, and ',' would need quoting).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from racekit.leaderboard.ranking import Board

CSV_FIELDS = ["board", "position", "score", "unranked_reason", "id", "kind", "track", "direction", "racer",
              "laps", "lap_times", "best_lap", "offtracks", "crashes", "resets", "dnf", "termination",
              "laps_planned", "model_sha256", "reward_sha256", "created", "video", "track_map"]


def records(boards: list[Board]) -> list[dict]:
    """One dict per run, board by board, ranked runs first."""
    out = []
    for board in boards:
        for entry in board.entries:
            run = asdict(entry.run)
            out.append({"board": board.key, "rank": board.rank, "rank_laps": board.laps,
                        "position": entry.position, "score": entry.score, "unranked_reason": entry.reason,
                        "laps": len(run["lap_times"]),
                        "best_lap": min(run["lap_times"]) if run["lap_times"] else None, **run})
    return out


def to_json(boards: list[Board]) -> str:
    return json.dumps(records(boards), indent=2) + "\n"


def to_csv(boards: list[Board]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records(boards):
        row = dict(record)
        row["lap_times"] = ";".join(f"{t:.3f}" for t in record["lap_times"])
        for key in ("score", "best_lap"):
            row[key] = "" if record[key] is None else f"{record[key]:.3f}"
        row["dnf"] = int(record["dnf"])
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()
