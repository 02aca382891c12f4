"""The leaderboard as CSV or JSON: every run, with its board's position and score.

JSON keeps lists and the model metadata as they are; CSV has one flat row per run,
lap times joined with ';' (a spreadsheet splits them easily, and ',' would need quoting).
A head-to-head run also has its heat: the heat's id, its finishing position, and who it hit and was hit by
(racer names; in CSV joined with ';', in JSON under "heat" with the times of the contacts).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from racekit.leaderboard.ranking import Board

CSV_FIELDS = ["board", "position", "score", "unranked_reason", "id", "kind", "track", "direction", "race_type",
              "racer", "laps", "lap_times", "best_lap", "offtracks", "crashes", "resets", "offtracks_per_lap",
              "crashes_per_lap", "dnf", "termination", "laps_planned", "heat_id", "heat_position", "hit", "hit_by",
              "model_sha256", "reward_sha256", "created", "video", "track_map"]


def heat_record(run, heat, names: dict) -> dict:
    """A head-to-head run's heat: its place and the contacts it was in, the other cars by racer name."""
    def contact(c, other):
        return {"racer": names.get(other, f"#{other}"), "sim_time": c.sim_time, "lap": c.lap}

    return {"id": heat.id, "position": run.heat_position, "cars": len(heat.entrants),
            "hit": [contact(c, c.hit) for c in heat.contacts if c.hitter == run.id],
            "hit_by": [contact(c, c.hitter) for c in heat.contacts if c.hit == run.id]}


def records(boards: list[Board], heats: list | None = None) -> list[dict]:
    """One dict per run, board by board, ranked runs first; with `heats` (Leaderboard.heats()), a
    head-to-head run has its heat under "heat"."""
    by_id = {h.id: h for h in heats or ()}
    names = {e.run.id: e.run.racer for b in boards for e in b.entries}
    out = []
    for board in boards:
        for entry in board.entries:
            run = asdict(entry.run)
            heat = by_id.get(entry.run.heat_id)
            out.append({"board": board.key, "rank": board.rank, "rank_laps": board.laps,
                        "position": entry.position, "score": entry.score, "unranked_reason": entry.reason,
                        "laps": len(run["lap_times"]),
                        "best_lap": min(run["lap_times"]) if run["lap_times"] else None, **run,
                        "heat": heat_record(entry.run, heat, names) if heat is not None else None})
    return out


def to_json(boards: list[Board], heats: list | None = None) -> str:
    return json.dumps(records(boards, heats), indent=2) + "\n"


def to_csv(boards: list[Board], heats: list | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records(boards, heats):
        row = dict(record)
        row["lap_times"] = ";".join(f"{t:.3f}" for t in record["lap_times"])
        for key in ("offtracks_per_lap", "crashes_per_lap"):
            row[key] = "" if record[key] is None else ";".join(str(n) for n in record[key])
        heat = record["heat"] or {}
        for key in ("hit", "hit_by"):
            row[key] = ";".join(c["racer"] for c in heat.get(key, ()))
        for key in ("score", "best_lap"):
            row[key] = "" if record[key] is None else f"{record[key]:.3f}"
        row["dnf"] = int(record["dnf"])
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()
