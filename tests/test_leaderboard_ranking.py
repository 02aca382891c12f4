"""Ranking: DeepRacer's best average of 3 consecutive laps by default, best lap and total; runs without
enough laps or that did not finish are listed but not ranked; simulated and physical runs never mix."""
import csv
import io
import json

import pytest

from racekit.leaderboard.db import Run
from racekit.leaderboard.export import to_csv, to_json
from racekit.leaderboard.ranking import boards, score


def run(racer, laps, id_, kind="sim", track="oval", direction="forward", dnf=False, created=None,
        race_type="time-trial"):
    return Run(kind=kind, track=track, direction=direction, racer=racer, lap_times=laps, dnf=dnf,
               termination="dnf" if dnf else "lap_complete", id=id_, race_type=race_type,
               created=created or f"2026-01-01T00:00:{id_:02d}Z")


def test_scores():
    laps = [10.0, 9.0, 12.0, 8.0, 8.5, 9.5]
    assert score(laps, "average", 3) == pytest.approx((8.0 + 8.5 + 9.5) / 3)  # the best window, not the first
    assert score(laps, "average", 1) == 8.0
    assert score(laps, "best-lap", 1) == 8.0
    assert score(laps, "total", 3) == pytest.approx(31.0)  # the first three laps
    assert score(laps[:2], "average", 3) is None and score([], "best-lap", 1) is None


def test_a_board_per_track_and_direction_and_kind_ranked_by_the_average_of_3():
    runs = [
        run("slow", [11.0, 11.0, 11.0], 1),
        run("fast", [9.0, 9.5, 9.0, 12.0], 2),
        run("one-lap-wonder", [7.0], 3),  # fastest lap of all, but not 3 laps: not ranked
        run("crashed-out", [8.0, 8.0, 8.0], 4, dnf=True),  # DNF: not ranked
        run("hand-timed", [8.0, 8.0, 8.0], 5, kind="physical"),  # the real car: its own board
        run("backwards", [10.0, 10.0, 10.0], 6, direction="reverse"),
        run("elsewhere", [20.0, 20.0, 20.0], 7, track="piccolo"),
        run("tie-later", [11.0, 11.0, 11.0], 8),
    ]
    result = boards(runs)
    assert [b.key for b in result] == ["sim/oval/forward", "physical/oval/forward", "sim/oval/reverse",
                                       "sim/piccolo/forward"]
    oval = result[0]
    assert oval.title == "oval (forward), time trial, simulated: best average of 3 consecutive laps"
    assert [(e.position, e.run.racer) for e in oval.entries] == [
        (1, "fast"), (2, "slow"), (3, "tie-later"), (None, "one-lap-wonder"), (None, "crashed-out")]
    assert oval.entries[0].score == pytest.approx(9.5 * 1 / 3 + 9.0 * 2 / 3)
    assert oval.entries[3].reason == "1 of 3 laps" and oval.entries[4].reason.startswith("DNF")
    assert [(e.position, e.run.racer) for e in result[1].entries] == [(1, "hand-timed")]
    assert "physical car" in result[1].title

    by_lap = boards(runs, "best-lap")[0]  # 1 lap is enough for the best lap
    assert [(e.position, e.run.racer, e.score) for e in by_lap.entries[:3]] == [
        (1, "one-lap-wonder", 7.0), (2, "fast", 9.0), (3, "slow", 11.0)]
    total = boards(runs, "total", 4)[0]
    assert [(e.position, e.run.racer) for e in total.entries if e.position] == [(1, "fast")]
    with pytest.raises(ValueError):
        boards(runs, "fastest")
    with pytest.raises(ValueError):
        boards(runs, "average", 0)


def test_export_csv_and_json_hold_every_run_with_its_position():
    runs = [run("fast", [9.0, 9.5, 9.0], 1), run("short", [7.0], 2), run("car", [8.0, 8.1, 8.2], 3, kind="physical")]
    ranked = boards(runs)
    rows = list(csv.DictReader(io.StringIO(to_csv(ranked))))
    assert [(r["board"], r["racer"], r["position"], r["laps"]) for r in rows] == [
        ("sim/oval/forward", "fast", "1", "3"), ("sim/oval/forward", "short", "", "1"),
        ("physical/oval/forward", "car", "1", "3")]
    assert rows[0]["lap_times"] == "9.000;9.500;9.000" and rows[0]["score"] == "9.167"
    assert rows[1]["unranked_reason"] == "1 of 3 laps" and rows[2]["kind"] == "physical"
    data = json.loads(to_json(ranked))
    assert [d["racer"] for d in data] == ["fast", "short", "car"]
    assert data[0]["lap_times"] == [9.0, 9.5, 9.0] and data[0]["rank"] == "average" and data[0]["rank_laps"] == 3
    assert data[1]["position"] is None and data[2]["best_lap"] == 8.0


def test_a_board_per_race_type_each_ranked_by_deepracers_average_of_3():
    runs = [run("tt", [9.0, 9.0, 9.0], 1),
            run("boxes-slow", [14.0, 14.0, 14.0], 2, race_type="object-avoidance"),
            run("boxes-fast", [12.0, 12.5, 12.0], 3, race_type="object-avoidance"),
            run("bots", [11.0, 11.0, 11.0], 4, race_type="head-to-bot"),
            run("duel", [10.0, 10.0, 10.0], 5, race_type="head-to-head"),
            run("car-boxes", [13.0, 13.0, 13.0], 6, kind="physical", race_type="object-avoidance")]
    result = boards(runs)
    # the time trial keeps its key from before race types; the others name theirs; sim before physical
    assert [b.key for b in result] == ["sim/oval/forward", "sim/oval/forward/object-avoidance",
                                       "physical/oval/forward/object-avoidance", "sim/oval/forward/head-to-bot",
                                       "sim/oval/forward/head-to-head"]
    boxes = result[1]
    assert boxes.race_type == "object-avoidance"
    assert boxes.title == "oval (forward), object avoidance, simulated: best average of 3 consecutive laps"
    assert [(e.position, e.run.racer) for e in boxes.entries] == [(1, "boxes-fast"), (2, "boxes-slow")]
    assert boxes.entries[0].score == pytest.approx((12.0 + 12.5 + 12.0) / 3)
    assert "head-to-head, simulated" in result[4].title and "physical car" in result[2].title
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert [r["race_type"] for r in rows] == ["time-trial", "object-avoidance", "object-avoidance",
                                              "object-avoidance", "head-to-bot", "head-to-head"]
