"""The leaderboard file: where it lives, what a row holds, WAL, migration of an old file in place,
and files that are not ours (or are damaged) refused with one clear line and left byte for byte."""
import os
import sqlite3
from pathlib import Path

import pytest

from racekit.leaderboard.db import Contact, Heat, Leaderboard, LeaderboardError, Run, default_path
from racekit.leaderboard.migrations import APPLICATION_ID, LATEST


def sim_run(**fields) -> Run:
    base = dict(kind="sim", track="oval", direction="forward", racer="clone", lap_times=[8.8, 8.6, 8.7],
                model_sha256="c1" * 32, model_meta={"camera": {"width": 80}, "track": "oval"},
                reward_sha256="ab" * 32, laps_planned=3, offtracks=1, crashes=0, resets=1, dnf=False,
                termination="lap_complete", rules={"laps": 3, "offtrack_penalty": 2.0}, video="/r/replay.mp4",
                track_map="/r/map.png", racekit_version="0.1.0")
    base.update(fields)
    return Run(**base)


def test_default_path_honours_racekit_db_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "mine.sqlite"))
    assert default_path() == tmp_path / "mine.sqlite"
    monkeypatch.delenv("RACEKIT_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "racekit" / "leaderboard.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "racekit" / "leaderboard.sqlite"


def test_a_new_file_is_versioned_marked_as_ours_in_wal_mode_and_keeps_every_field(tmp_path):
    path = tmp_path / "sub" / "board.sqlite"
    with Leaderboard(path) as board:
        first = board.add(sim_run())
        second = board.add(sim_run())  # the same model raced twice: two entries
        physical = board.add(sim_run(kind="physical", direction="reverse", model_sha256=None, model_meta=None,
                                     video=None, track_map=None, dnf=True, termination="dnf"))
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with Leaderboard(path) as board:
        assert board.count() == 3 and [first, second, physical] == [1, 2, 3]
        got = board.get(first)
        assert got == sim_run(id=first, created=got.created)
        assert got.created.endswith("Z") and got.lap_times == [8.8, 8.6, 8.7] and got.model_meta["track"] == "oval"
        assert [r.id for r in board.runs(kind="sim")] == [1, 2]
        assert board.get(physical).dnf is True and board.get(physical).model_sha256 is None
        assert board.runs(track="no-such") == [] and board.get(99) is None


def test_a_run_with_a_wrong_kind_or_direction_is_refused():
    with pytest.raises(ValueError, match="kind"):
        sim_run(kind="virtual")
    with pytest.raises(ValueError, match="direction"):
        sim_run(direction="clockwise")


def make_v1(path: Path) -> None:
    """A leaderboard as racekit's schema 1 wrote it, made by hand (not with racekit's own code)."""
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE results (
            id INTEGER PRIMARY KEY, track TEXT NOT NULL, racer TEXT NOT NULL, model_sha256 TEXT NOT NULL,
            lap_times TEXT NOT NULL, offtracks INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL);
        INSERT INTO results VALUES (1, 'oval', 'old-timer', '{"aa" * 32}', '[9.5, 9.25, 9.75]', 2,
                                    '2025-06-01T10:00:00Z');
        INSERT INTO results VALUES (7, 'piccolo', 'rookie', '{"bb" * 32}', '[14.0]', 0, '2025-06-02T10:00:00Z');
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = 1;
    """)
    conn.commit()
    conn.close()


def test_a_schema_1_file_is_migrated_in_place_with_a_backup(tmp_path):
    path = tmp_path / "old.sqlite"
    make_v1(path)
    old_bytes = path.read_bytes()
    with Leaderboard(path) as board:
        runs = board.runs()
        assert [(r.id, r.racer, r.lap_times, r.offtracks, r.kind, r.direction, r.dnf, r.race_type) for r in runs] == [
            (1, "old-timer", [9.5, 9.25, 9.75], 2, "sim", "forward", False, "time-trial"),
            (7, "rookie", [14.0], 0, "sim", "forward", False, "time-trial")]
        assert runs[0].created == "2025-06-01T10:00:00Z" and runs[0].model_sha256 == "aa" * 32
        assert board.add(sim_run(kind="physical", model_sha256=None)) == 8  # and the new columns take data
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST
    columns = [r[1] for r in raw.execute("PRAGMA table_info(results)")]
    assert {"kind", "direction", "model_meta", "reward_sha256", "crashes", "resets", "dnf", "video",
            "track_map"} <= set(columns)
    raw.close()
    backup = tmp_path / "old.sqlite.v1.bak"
    check = sqlite3.connect(backup)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    assert check.execute("SELECT count(*) FROM results").fetchone()[0] == 2
    check.close()
    assert old_bytes[:16] == b"SQLite format 3\x00"
    with Leaderboard(path) as board:  # opening again changes nothing
        assert board.count() == 3


def make_v2(path: Path) -> None:
    """A leaderboard as racekit's schema 2 wrote it (before race types), made by hand: a simulated run, a
    hand-timed one with no model, a DNF, and the WAL mode schema 2 switched files to."""
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('sim', 'physical')),
            track TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('forward', 'reverse')),
            racer TEXT NOT NULL, model_sha256 TEXT, model_meta TEXT, reward_sha256 TEXT, laps_planned INTEGER,
            lap_times TEXT NOT NULL, offtracks INTEGER NOT NULL DEFAULT 0, crashes INTEGER NOT NULL DEFAULT 0,
            resets INTEGER NOT NULL DEFAULT 0, dnf INTEGER NOT NULL DEFAULT 0 CHECK (dnf IN (0, 1)),
            termination TEXT, rules TEXT, video TEXT, track_map TEXT, racekit_version TEXT, created TEXT NOT NULL);
        CREATE INDEX results_board ON results (kind, track, direction);
        INSERT INTO results (id, kind, track, direction, racer, model_sha256, model_meta, laps_planned, lap_times,
                             offtracks, resets, termination, rules, created)
            VALUES (3, 'sim', 'oval', 'forward', 'clone', '{"cc" * 32}', '{{"track": "oval"}}', 3,
                    '[8.5, 8.75, 8.5]', 1, 1, 'lap_complete', '{{"laps": 3, "offtrack_penalty": 2.0}}',
                    '2026-03-01T10:00:00Z');
        INSERT INTO results (id, kind, track, direction, racer, lap_times, termination, created)
            VALUES (4, 'physical', 'oval', 'reverse', 'my car', '[9.8, 10.1, 9.9]', 'lap_complete',
                    '2026-03-02T10:00:00Z');
        INSERT INTO results (id, kind, track, direction, racer, lap_times, dnf, termination, created)
            VALUES (5, 'sim', 'piccolo', 'forward', 'wall-hugger', '[]', 1, 'dnf', '2026-03-03T10:00:00Z');
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = 2;
        PRAGMA journal_mode = WAL;
    """)
    conn.commit()
    conn.close()


def test_a_schema_2_file_gets_race_types_and_heats_in_place_its_rows_time_trials(tmp_path):
    path = tmp_path / "v2.sqlite"
    make_v2(path)
    with Leaderboard(path) as board:
        runs = board.runs()
        assert [(r.id, r.kind, r.direction, r.racer, r.race_type, r.crashes_per_lap, r.heat_id) for r in runs] == [
            (3, "sim", "forward", "clone", "time-trial", None, None),
            (4, "physical", "reverse", "my car", "time-trial", None, None),
            (5, "sim", "forward", "wall-hugger", "time-trial", None, None)]
        assert runs[0].lap_times == [8.5, 8.75, 8.5] and runs[0].rules["laps"] == 3 and runs[2].dnf
        assert board.runs(race_type="time-trial") == runs and board.runs(race_type="object-avoidance") == []
        new = board.add(sim_run(race_type="object-avoidance", crashes=2, crashes_per_lap=[1, 0, 1],
                                offtracks_per_lap=[0, 1, 0]))
        assert board.get(new).crashes_per_lap == [1, 0, 1] and board.get(new).race_type == "object-avoidance"
        assert board.heats() == []
        assert runs[0].run_dir is None  # older rows never knew their training run
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST == 5
    assert "run_dir" in {r[1] for r in raw.execute("PRAGMA table_info(results)")}
    assert {"model_sha256", "suite", "score"} <= {r[1] for r in raw.execute("PRAGMA table_info(suite_scores)")}
    assert {"race_type", "offtracks_per_lap", "crashes_per_lap", "heat_id", "heat_position"} <= {
        r[1] for r in raw.execute("PRAGMA table_info(results)")}
    assert [r[2] for r in raw.execute("PRAGMA index_info(results_board)")] == ["kind", "track", "direction",
                                                                               "race_type"]
    with pytest.raises(sqlite3.IntegrityError):  # the column checks its values, as the others do
        raw.execute("UPDATE results SET race_type = 'drag-race' WHERE id = 3")
    raw.close()
    backup = sqlite3.connect(tmp_path / "v2.sqlite.v2.bak")
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 2
    assert backup.execute("SELECT count(*) FROM results").fetchone()[0] == 3
    backup.close()
    with Leaderboard(path) as board:
        assert board.count() == 4


def test_a_head_to_head_heat_stores_both_cars_their_order_and_who_hit_whom(tmp_path):
    path = tmp_path / "board.sqlite"
    cars = [sim_run(racer="slow", race_type="head-to-head", heat_position=1, crashes=0, crashes_per_lap=[0]),
            sim_run(racer="fast", race_type="head-to-head", heat_position=2, crashes=2, crashes_per_lap=[2])]
    with Leaderboard(path) as board:
        board.add(sim_run())
        heat_id, ids = board.add_heat(Heat(track="oval", direction="forward", laps_planned=1,
                                           rules={"laps": 1, "stagger": 0.6}, video="/r/h.mp4"), cars,
                                      [Contact(0.5, 1, hitter=1, hit=0, x=1.0, y=0.0),
                                       Contact(9.25, 1, hitter=1, hit=0)])
        assert (heat_id, ids) == (1, [2, 3])
        [heat] = board.heats()
        assert (heat.id, heat.track, heat.rules["stagger"], heat.entrants) == (1, "oval", 0.6, [2, 3])
        assert [(c.sim_time, c.hitter, c.hit, c.x) for c in heat.contacts] == [(0.5, 3, 2, 1.0), (9.25, 3, 2, None)]
        assert [(r.racer, r.heat_id, r.heat_position) for r in board.runs(race_type="head-to-head")] == [
            ("slow", 1, 1), ("fast", 1, 2)]
        assert board.heats(track="piccolo") == []
        with pytest.raises(ValueError, match="head-to-head"):
            board.add_heat(Heat(track="oval", direction="forward"), [sim_run(), sim_run()])
        assert board.count() == 3  # nothing of a refused heat is stored


def sqlite_file(path: Path, script: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()


def damaged(path: Path) -> None:
    """A real leaderboard whose pages past the first are overwritten: the header still reads well."""
    with Leaderboard(path) as board:
        for i in range(200):
            board.add(sim_run(racer=f"racer{i}", model_meta={"pad": "x" * 500}))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")  # everything in the main file, no -wal beside it
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page:len(data) - page] = b"\xa5" * (len(data) - 3 * page)
    path.write_bytes(bytes(data))


FOREIGN = {
    "random bytes": lambda p: p.write_bytes(os.urandom(3000)),
    "a text file": lambda p: p.write_text("name,lap\nalice,9.8\n"),
    "another program's SQLite file": lambda p: sqlite_file(p, "CREATE TABLE moz_places (id INTEGER, url TEXT);"
                                                              "INSERT INTO moz_places VALUES (1, 'x');"),
    "another program's application_id": lambda p: sqlite_file(p, "PRAGMA application_id = 1234;"
                                                                 "CREATE TABLE t (x);"),
    "a newer racekit's schema": lambda p: sqlite_file(p, f"PRAGMA application_id = {APPLICATION_ID};"
                                                         f"PRAGMA user_version = {LATEST + 1};"
                                                         "CREATE TABLE results (id INTEGER PRIMARY KEY);"),
    "a damaged leaderboard": damaged,
}
EXPECTED = {"random bytes": "not an SQLite database", "a text file": "not an SQLite database",
            "another program's SQLite file": "another program", "another program's application_id": "0x4d2",
            "a newer racekit's schema": "newer racekit", "a damaged leaderboard": "damaged"}


@pytest.mark.parametrize("what", sorted(FOREIGN))
def test_a_foreign_or_damaged_file_is_refused_and_left_byte_for_byte(tmp_path, what):
    path = tmp_path / "board.sqlite"
    FOREIGN[what](path)
    before, listing = path.read_bytes(), sorted(os.listdir(tmp_path))
    with pytest.raises(LeaderboardError) as caught:
        Leaderboard(path)
    message = str(caught.value)
    assert str(path) in message and EXPECTED[what] in message and "left as it is" in message
    assert "\n" not in message
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal, -shm or backup beside it either


def test_a_directory_is_not_a_leaderboard(tmp_path):
    with pytest.raises(LeaderboardError, match="is a directory"):
        Leaderboard(tmp_path)
