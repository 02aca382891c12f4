"""The leaderboard's schema, version by version.

The file's version is SQLite's `PRAGMA user_version`; `PRAGMA application_id`
marks the file as racekit's, so a foreign SQLite file is never mistaken for an
empty leaderboard. A new file runs every step from version 0, so the upgrade
path of old files is the same code that every new file goes through.

Version 1 (racekit's first leaderboard): one `results` table of simulated runs:
    track, racer, model_sha256, lap_times (JSON list of seconds), offtracks, created.
Version 2: physical runs beside simulated ones (`kind`), direction, model metadata,
    reward sha256, planned laps, crash/reset counts, DNF and its reason, the race
    rules, the replay files and the racekit version; model_sha256 may be NULL
    (a hand-timed run may not name its model). SQLite cannot drop a NOT NULL
    with ALTER TABLE, so the table is rebuilt and the rows copied.
Version 3: race types (issue 11). `race_type` on every result ('time-trial' for the rows
    before it: the only races there were), off-tracks and crashes per lap (JSON lists;
    NULL for older rows, which never counted them), and head-to-head heats: a `heats`
    row per race of two models on the track at once, each entrant a result linked to
    it (`heat_id`, its finishing order `heat_position`), and `heat_contacts`, who hit
    whom (the car behind is the one that hit). The board index takes the race type.
Version 4: robustness suite scores (issue 9): `suite_scores`, one row per model file (its sha256) and
    suite, the latest score kept: score (clean laps / laps), clean_laps, laps, the suite's rows (JSON)
    and when it was stored. The boards show a model's score beside its runs where one is known.
Version 5: `run_dir` on results (issue 13): the training run a raced model file lies in (an exported
    RUN/model.onnx), so the page can link the run's `racekit analyze` report; NULL where unknown.
"""
from __future__ import annotations

import sqlite3

APPLICATION_ID = 0x524B4C42  # "RKLB": racekit leaderboard

V1 = """
CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    track TEXT NOT NULL,
    racer TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    lap_times TEXT NOT NULL,
    offtracks INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
"""

V2_TABLE = """
CREATE TABLE results_v2 (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('sim', 'physical')),
    track TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('forward', 'reverse')),
    racer TEXT NOT NULL,
    model_sha256 TEXT,
    model_meta TEXT,
    reward_sha256 TEXT,
    laps_planned INTEGER,
    lap_times TEXT NOT NULL,
    offtracks INTEGER NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0,
    resets INTEGER NOT NULL DEFAULT 0,
    dnf INTEGER NOT NULL DEFAULT 0 CHECK (dnf IN (0, 1)),
    termination TEXT,
    rules TEXT,
    video TEXT,
    track_map TEXT,
    racekit_version TEXT,
    created TEXT NOT NULL
);
"""

V1_TO_V2 = V2_TABLE + """
INSERT INTO results_v2 (id, kind, track, direction, racer, model_sha256, lap_times, offtracks, created)
    SELECT id, 'sim', track, 'forward', racer, model_sha256, lap_times, offtracks, created FROM results;
DROP TABLE results;
ALTER TABLE results_v2 RENAME TO results;
CREATE INDEX results_board ON results (kind, track, direction);
"""

V2_TO_V3 = """
CREATE TABLE heats (
    id INTEGER PRIMARY KEY,
    track TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('forward', 'reverse')),
    laps_planned INTEGER,
    rules TEXT,
    video TEXT,
    track_map TEXT,
    racekit_version TEXT,
    created TEXT NOT NULL
);
ALTER TABLE results ADD COLUMN race_type TEXT NOT NULL DEFAULT 'time-trial'
    CHECK (race_type IN ('time-trial', 'object-avoidance', 'head-to-bot', 'head-to-head'));
ALTER TABLE results ADD COLUMN offtracks_per_lap TEXT;
ALTER TABLE results ADD COLUMN crashes_per_lap TEXT;
ALTER TABLE results ADD COLUMN heat_id INTEGER REFERENCES heats (id);
ALTER TABLE results ADD COLUMN heat_position INTEGER;
CREATE TABLE heat_contacts (
    id INTEGER PRIMARY KEY,
    heat_id INTEGER NOT NULL REFERENCES heats (id),
    sim_time REAL NOT NULL,
    lap INTEGER NOT NULL,
    hitter INTEGER NOT NULL REFERENCES results (id),
    hit INTEGER NOT NULL REFERENCES results (id),
    x REAL,
    y REAL
);
DROP INDEX IF EXISTS results_board;
CREATE INDEX results_board ON results (kind, track, direction, race_type);
CREATE INDEX results_heat ON results (heat_id);
"""

V3_TO_V4 = """
CREATE TABLE suite_scores (
    model_sha256 TEXT NOT NULL,
    suite TEXT NOT NULL,
    score REAL NOT NULL,
    clean_laps INTEGER NOT NULL,
    laps INTEGER NOT NULL,
    rows TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (model_sha256, suite)
);
"""

V4_TO_V5 = """
ALTER TABLE results ADD COLUMN run_dir TEXT;
"""

# MIGRATIONS[i] takes a file from version i to version i + 1.
MIGRATIONS = [V1, V1_TO_V2, V2_TO_V3, V3_TO_V4, V4_TO_V5]
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, current: int) -> None:
    """Run the steps from `current` to LATEST inside the caller's transaction.

    Statements run one by one (not executescript, which would COMMIT the
    caller's transaction half way): the whole upgrade commits or none of it.
    """
    for version in range(current, LATEST):
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {LATEST}")
