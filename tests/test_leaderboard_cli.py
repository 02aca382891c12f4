"""`racekit leaderboard`, `... add --physical`, `... export`: as a user types them."""
import csv
import hashlib
import io
import json

import pytest

from hardware_helpers import make_model
from racekit.cli import main
from racekit.leaderboard.db import Leaderboard


@pytest.fixture(autouse=True)
def own_db(tmp_path, monkeypatch):
    """RACEKIT_DB points into the test's folder: no test touches the user's real leaderboard."""
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "env-board.sqlite"))
    return tmp_path / "env-board.sqlite"


def racekit(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_physical_runs_then_show_them_on_their_own_board(tmp_path, capsys, own_db):
    db = str(tmp_path / "board.sqlite")
    code, out, _ = racekit(capsys, "leaderboard", "add", "--physical", "--track", "oval", "--name", "alice",
                           "--laps", "9.8,10.1,9.9", "--off-tracks", "1", "--db", db)
    assert code == 0 and "added result #1" in out and "alice on oval (physical)" in out
    racekit(capsys, "leaderboard", "add", "--physical", "--track", "oval", "--name", "bob", "--laps", "9.5,9.6",
            "--db", db)
    racekit(capsys, "leaderboard", "add", "--physical", "--track", "piccolo", "--name", "carol",
            "--laps", "15,14.5,14.8", "--reverse", "--db", db)
    code, out, _ = racekit(capsys, "leaderboard", "--db", db)
    assert code == 0
    assert "oval (forward), time trial, physical car, hand-timed: best average of 3 consecutive laps" in out
    assert "piccolo (reverse), time trial, physical car, hand-timed" in out
    lines = out.splitlines()
    alice = next(line for line in lines if "alice" in line)
    assert alice.split()[:5] == ["1", "alice", "9.93", "9.80", "3"]
    bob = next(line for line in lines if "bob" in line)
    assert bob.split()[0] == "-" and "not ranked: 2 of 3 laps" in bob
    code, out, _ = racekit(capsys, "leaderboard", "--db", db, "--rank", "best-lap", "--track", "oval")
    assert "piccolo" not in out and next(x for x in out.splitlines() if "bob" in x).split()[:3] == ["1", "bob", "9.50"]
    assert not own_db.exists()  # --db wins over RACEKIT_DB


def test_a_hand_timed_object_avoidance_run_has_a_board_of_its_own_with_its_crashes(tmp_path, capsys):
    db = str(tmp_path / "board.sqlite")
    racekit(capsys, "leaderboard", "add", "--physical", "--track", "oval", "--name", "alice", "--laps", "9,9,9",
            "--db", db)
    code, out, _ = racekit(capsys, "leaderboard", "add", "--physical", "--track", "oval", "--name", "boxer",
                           "--laps", "12,11,12", "--race-type", "object-avoidance", "--crashes", "2", "--db", db)
    assert code == 0 and "boxer on oval (physical, object-avoidance)" in out
    code, out, _ = racekit(capsys, "leaderboard", "--db", db)
    assert "oval (forward), time trial, physical car" in out
    assert "oval (forward), object avoidance, physical car, hand-timed: best average of 3" in out
    boxer = next(line for line in out.splitlines() if "boxer" in line)
    assert boxer.split()[:7] == ["1", "boxer", "11.67", "11.00", "3", "0", "2"]  # ..., off-tracks, crashes
    code, out, _ = racekit(capsys, "leaderboard", "--db", db, "--race-type", "object-avoidance")
    assert "boxer" in out and "alice" not in out and "time trial" not in out
    code, out, _ = racekit(capsys, "leaderboard", "export", "--format", "csv", "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["racer"], r["race_type"], r["crashes"], r["board"]) for r in rows] == [
        ("alice", "time-trial", "0", "physical/oval/forward"),
        ("boxer", "object-avoidance", "2", "physical/oval/forward/object-avoidance")]
    with pytest.raises(SystemExit):  # head-to-head results come from racekit race only
        main(["leaderboard", "add", "--physical", "--track", "oval", "--name", "x", "--laps", "9",
              "--race-type", "head-to-head", "--db", db])
    assert "invalid choice: 'head-to-head'" in capsys.readouterr().err


def test_racekit_db_is_the_default_and_reading_creates_nothing(capsys, own_db):
    code, out, _ = racekit(capsys, "leaderboard")
    assert code == 0 and "no results" in out and str(own_db) in out and not own_db.exists()
    racekit(capsys, "leaderboard", "add", "--physical", "--track", "oval", "--name", "dana", "--laps", "9,9,9")
    with Leaderboard(own_db) as board:
        assert [(r.racer, r.kind, r.laps_planned) for r in board.runs()] == [("dana", "physical", 3)]


def test_export_csv_and_json_to_a_file_or_stdout(tmp_path, capsys):
    db = str(tmp_path / "board.sqlite")
    model = make_model(tmp_path / "car.onnx")
    racekit(capsys, "leaderboard", "add", "--physical", "--track", "oval", "--name", "alice", "--laps", "9.8,10.1,9.9",
            "--model", str(model), "--db", db)
    code, out, _ = racekit(capsys, "leaderboard", "export", "--format", "csv", "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 1 and rows[0]["racer"] == "alice" and rows[0]["position"] == "1"
    assert rows[0]["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert rows[0]["reward_sha256"] == "0" * 64  # from the model's metadata
    target = tmp_path / "out.json"
    code, _, err = racekit(capsys, "leaderboard", "--db", db, "export", "--format", "json", "--out", str(target),
                           "--rank", "total")
    data = json.loads(target.read_text())
    assert code == 0 and "1 results written" in err
    assert data[0]["rank"] == "total" and data[0]["score"] == pytest.approx(29.8)
    assert data[0]["model_meta"]["camera"]["width"] == 32 and data[0]["kind"] == "physical"


@pytest.mark.parametrize("args, message", [
    (["--track", "oval", "--name", "a", "--laps", "9,9"], "--physical"),
    (["--physical", "--track", "oval", "--name", "a", "--laps", "9,x"], "--laps must be lap times"),
    (["--physical", "--track", "oval", "--name", "a", "--laps", "9,-1"], "above 0"),
    (["--physical", "--track", "oval", "--name", "a", "--laps", ","], "one or more"),
    (["--physical", "--track", "oval", "--name", " ", "--laps", "9"], "--name"),
    (["--physical", "--track", "oval", "--name", "a", "--laps", "9", "--off-tracks", "-2"], "--off-tracks"),
    (["--physical", "--track", "oval", "--name", "a", "--laps", "9", "--model", "missing.onnx"], "not found"),
])
def test_add_refuses_bad_input_with_one_line(tmp_path, capsys, args, message, own_db):
    code, _, err = racekit(capsys, "leaderboard", "add", *args)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not own_db.exists()


def test_a_foreign_file_is_refused_by_every_command_and_left_alone(tmp_path, capsys):
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes, not a leaderboard\n")
    before = path.read_bytes()
    for args in (["leaderboard"], ["leaderboard", "export", "--format", "json"],
                 ["leaderboard", "add", "--physical", "--track", "oval", "--name", "a", "--laps", "9"]):
        code, _, err = racekit(capsys, *args, "--db", str(path))
        assert code == 2 and "not a racekit leaderboard" in err and err.count("\n") == 1
    assert path.read_bytes() == before
