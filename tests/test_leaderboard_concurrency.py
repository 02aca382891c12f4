"""Several processes writing one leaderboard at once lose nothing: 4 x 25 results give exactly 100 rows.

Two ways: real `racekit race` processes (each races one model 25 times; the model drives straight off
the first bend and, allowed no reset, is a DNF at once, so a race takes a fraction of a second), and
bare writers that create a fresh file together and then insert as fast as they can (the worst case for
locking: the schema is created by whichever comes first, and every insert contends)."""
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from race_helpers import constant_model
from racekit.leaderboard.db import Leaderboard

PROCESSES, EACH = 4, 25
TIMEOUT_S = 240  # bounds a hang only


def env_for(tmp_path) -> dict:
    return dict(os.environ, RACEKIT_DB=str(tmp_path / "never-used.sqlite"), PYTHONUNBUFFERED="1")


def test_four_racing_processes_store_exactly_100_results(tmp_path):
    model = constant_model(tmp_path / "straight.onnx", speed=3.0)
    db = tmp_path / "board.sqlite"
    procs = [subprocess.Popen([sys.executable, "-m", "racekit", "race", *[str(model)] * EACH, "--track", "oval",
                               "--laps", "1", "--max-resets", "0", "--video-size", "64x48", "--name", f"p{k}",
                               "--db", str(db)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path))
             for k in range(PROCESSES)]
    outputs = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
        assert out.count("stored as result #") == EACH
    with Leaderboard(db) as board:
        runs = board.runs()
    assert len(runs) == PROCESSES * EACH
    assert Counter(r.racer for r in runs) == {f"p{k}": EACH for k in range(PROCESSES)}
    assert sorted(r.id for r in runs) == list(range(1, PROCESSES * EACH + 1))
    assert all(r.dnf and os.path.isfile(r.video) and os.path.isfile(r.track_map) for r in runs)
    assert len({r.video for r in runs}) == PROCESSES * EACH  # every race its own replay
    assert not (tmp_path / "never-used.sqlite").exists()


WRITER = textwrap.dedent("""
    import os, sys, time
    from racekit.leaderboard.db import Leaderboard, Run
    db, k, each, folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    open(os.path.join(folder, f"ready{k}"), "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(folder, "go")):  # all start together
        if time.monotonic() > deadline:
            sys.exit("no start signal")
        time.sleep(0.005)
    with Leaderboard(db) as board:  # the first of them creates the file, the others find it made
        for i in range(each):
            board.add(Run(kind="sim", track="oval", direction="forward", racer=f"w{k}", lap_times=[float(i)]))
""")


def test_four_writers_creating_one_file_at_once_lose_nothing(tmp_path):
    db = tmp_path / "fresh" / "board.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(k), str(EACH), str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_for(tmp_path))
             for k in range(PROCESSES)]
    deadline = time.monotonic() + TIMEOUT_S
    while not all((tmp_path / f"ready{k}").exists() for k in range(PROCESSES)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            pytest.fail("the writers did not all start: " + " | ".join(p.communicate()[1] for p in procs))
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 0, err
    with Leaderboard(db) as board:
        runs = board.runs()
    assert len(runs) == PROCESSES * EACH
    assert Counter((r.racer, r.lap_times[0]) for r in runs) == {
        (f"w{k}", float(i)): 1 for k in range(PROCESSES) for i in range(EACH)}
