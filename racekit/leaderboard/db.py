"""The leaderboard database: one SQLite file of race results, shared by every racekit process.

Where: `--db PATH`, else $RACEKIT_DB, else $XDG_DATA_HOME/racekit/leaderboard.sqlite
(~/.local/share/racekit/leaderboard.sqlite).

Several races may write at once (one process per terminal, a script racing many
models): the file is in WAL mode (readers never block the writer), every write
takes the write lock at its start (BEGIN IMMEDIATE: a deferred transaction that
upgrades its lock later can fail at once with "database is locked", whatever the
busy timeout), and a writer waits up to BUSY_TIMEOUT_S for the lock.

What it holds: `results`, one row per run (a Run: simulated or hand-timed, of a race type, with its lap
times, off-tracks and crashes in total and per lap), and head-to-head `heats` (a Heat: its cars are
results linked to it, in finishing order, and its `heat_contacts`, who hit whom).

A file is checked before anything is written to it: not SQLite, another program's
SQLite file, a newer racekit's schema or a damaged file each give a
LeaderboardError naming the file, and the file is left exactly as it was.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from racekit.leaderboard.migrations import APPLICATION_ID, LATEST, migrate
from racekit.sim import RACE_TYPES as SIM_RACE_TYPES

ENV_VAR = "RACEKIT_DB"
FILE_NAME = "leaderboard.sqlite"
BUSY_TIMEOUT_S = 30.0
SQLITE_HEADER = b"SQLite format 3\x00"
KINDS = ("sim", "physical")
DIRECTIONS = ("forward", "reverse")
# DeepRacer's three race types, then head-to-head: two models on the track at once (a heat)
RACE_TYPES = (*SIM_RACE_TYPES, "head-to-head")
JSON_FIELDS = ("lap_times", "model_meta", "rules", "offtracks_per_lap", "crashes_per_lap")
LEFT_AS_IS = "it was left as it is; choose another file with --db or $RACEKIT_DB"


class LeaderboardError(Exception):
    """The database cannot be used; str() is one line naming the file."""


def default_path() -> Path:
    """$RACEKIT_DB, else the user's data directory (XDG)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(data) / "racekit" / FILE_NAME


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def open_board(path: str | os.PathLike | None = None, create: bool = True) -> Leaderboard | None:
    """The leaderboard at `path` (default: default_path()); None if it does not exist and `create` is false.
    A file that cannot be used is a LeaderboardError naming it."""
    target = Path(path) if path else default_path()
    if not create and not target.exists():
        return None
    return Leaderboard(target)


def is_training_run(path) -> bool:
    """A racekit training run's folder (what Run.run_dir names): its config.json and checkpoints/."""
    return bool(path) and (Path(path) / "config.json").is_file() and (Path(path) / "checkpoints").is_dir()


@dataclass
class Run:
    """One result: a simulated race or a hand-timed run of the real car."""

    kind: str  # "sim" or "physical"
    track: str
    direction: str  # "forward" or "reverse"
    racer: str
    lap_times: list[float]  # completed laps, seconds, penalties included
    model_sha256: str | None = None
    model_meta: dict | None = None  # the model file's racekit metadata
    reward_sha256: str | None = None
    laps_planned: int | None = None
    offtracks: int = 0
    crashes: int = 0
    resets: int = 0
    dnf: bool = False
    termination: str | None = None  # why the run ended: lap_complete, dnf (reset cap), max_steps
    rules: dict | None = None  # penalties and reset cap the run was held to
    video: str | None = None  # absolute paths of the replay files
    track_map: str | None = None
    racekit_version: str | None = None
    race_type: str = "time-trial"  # RACE_TYPES; each has boards of its own
    offtracks_per_lap: list[int] | None = None  # completed laps' off-tracks (and other resets); None: not counted
    crashes_per_lap: list[int] | None = None  # completed laps' crashes (boxes, bots, the other car)
    heat_id: int | None = None  # head-to-head: the heat (Heat.id) this run was one car of ...
    heat_position: int | None = None  # ... and where it finished in it, 1 first
    created: str = field(default_factory=utc_now)  # ISO 8601, UTC
    run_dir: str | None = None  # the training run the model file lies in, where known: its analysis report
    id: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.race_type not in RACE_TYPES:
            raise ValueError(f"race_type must be one of {', '.join(RACE_TYPES)}, got {self.race_type!r}")


@dataclass
class Contact:
    """In a head-to-head heat, a contact between the cars: `hitter` (the car behind, whose crash it is) ran
    into `hit`. Both are result ids once stored (entrant indices 0, 1 when given to `add_heat`)."""

    sim_time: float  # seconds into the race
    lap: int  # the hitter's lap, 1-based
    hitter: int
    hit: int
    x: float | None = None  # where, m
    y: float | None = None


@dataclass
class Heat:
    """A head-to-head race: its cars are results (Run.heat_id) in finishing order; who hit whom."""

    track: str
    direction: str
    laps_planned: int | None = None
    rules: dict | None = None
    video: str | None = None  # the heat's replay (both cars) and map (both lines)
    track_map: str | None = None
    racekit_version: str | None = None
    created: str = field(default_factory=utc_now)
    id: int | None = None
    entrants: list[int] = field(default_factory=list)  # result ids, finishing order
    contacts: list[Contact] = field(default_factory=list)


COLUMNS = [f.name for f in fields(Run) if f.name != "id"]
HEAT_COLUMNS = ["track", "direction", "laps_planned", "rules", "video", "track_map", "racekit_version", "created"]
CONTACT_COLUMNS = [f.name for f in fields(Contact)]


class Leaderboard:
    """An open, checked, up-to-date leaderboard file. Use as a context manager."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.conn = _open(self.path)

    def add(self, run: Run) -> int:
        """Store a run; returns its id. Committed before this returns."""
        with self._guard():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                run_id = self._insert(run)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return run_id

    def add_heat(self, heat: Heat, runs: list[Run], contacts: list[Contact] = ()) -> tuple[int, list[int]]:
        """Store a head-to-head heat and its cars' runs (in entrant order; each run's heat_position says where
        it finished) in one transaction; `contacts` name the cars by entrant index. Returns the heat's id and
        the runs' ids."""
        if len(runs) < 2 or any(r.race_type != "head-to-head" for r in runs):
            raise ValueError("a heat is two or more runs of race type head-to-head")
        row = asdict(heat)
        values = [json.dumps(row[c]) if c == "rules" and row[c] is not None else row[c] for c in HEAT_COLUMNS]
        with self._guard():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                heat_id = int(self.conn.execute(f"INSERT INTO heats ({', '.join(HEAT_COLUMNS)}) VALUES "
                                                f"({', '.join('?' * len(HEAT_COLUMNS))})", values).lastrowid)
                ids = [self._insert(replace(run, heat_id=heat_id)) for run in runs]
                for c in contacts:
                    self.conn.execute(f"INSERT INTO heat_contacts (heat_id, {', '.join(CONTACT_COLUMNS)}) VALUES "
                                      f"(?, {', '.join('?' * len(CONTACT_COLUMNS))})",
                                      (heat_id, c.sim_time, c.lap, ids[c.hitter], ids[c.hit], c.x, c.y))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return heat_id, ids

    def heats(self, track: str | None = None) -> list[Heat]:
        """Stored head-to-head heats, oldest first, with their cars (finishing order) and contacts."""
        sql, params = f"SELECT id, {', '.join(HEAT_COLUMNS)} FROM heats", []
        if track is not None:
            sql, params = sql + " WHERE track = ?", [track]
        with self._guard():
            rows = self.conn.execute(sql + " ORDER BY id", params).fetchall()
            entrants = self.conn.execute("SELECT heat_id, id FROM results WHERE heat_id IS NOT NULL "
                                         "ORDER BY heat_id, heat_position IS NULL, heat_position, id").fetchall()
            contacts = self.conn.execute(f"SELECT heat_id, {', '.join(CONTACT_COLUMNS)} FROM heat_contacts "
                                         "ORDER BY heat_id, sim_time, id").fetchall()
        heats = []
        for row in rows:
            data = dict(zip(["id", *HEAT_COLUMNS], row))
            try:
                data["rules"] = json.loads(data["rules"]) if data["rules"] is not None else None
            except ValueError as exc:
                raise LeaderboardError(f"{self.path}: heat #{data['id']} is unreadable ({exc})") from None
            heat = Heat(**data)
            heat.entrants = [run_id for heat_id, run_id in entrants if heat_id == heat.id]
            heat.contacts = [Contact(*c[1:]) for c in contacts if c[0] == heat.id]
            heats.append(heat)
        return heats

    def _insert(self, run: Run) -> int:
        row = asdict(run)
        values = [json.dumps(row[c]) if c in JSON_FIELDS and row[c] is not None else row[c] for c in COLUMNS]
        values[COLUMNS.index("dnf")] = int(run.dnf)
        cursor = self.conn.execute(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES "
                                   f"({', '.join('?' * len(COLUMNS))})", values)
        return int(cursor.lastrowid)

    def runs(self, track: str | None = None, kind: str | None = None, race_type: str | None = None) -> list[Run]:
        """Stored runs, oldest first, optionally of one track, kind and/or race type."""
        where, params = [], []
        for column, value in (("track", track), ("kind", kind), ("race_type", race_type)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT id, {', '.join(COLUMNS)} FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._guard():
            rows = self.conn.execute(sql + " ORDER BY id", params).fetchall()
        return [self._run(row) for row in rows]

    def get(self, run_id: int) -> Run | None:
        with self._guard():
            row = self.conn.execute(f"SELECT id, {', '.join(COLUMNS)} FROM results WHERE id = ?",
                                    (run_id,)).fetchone()
        return None if row is None else self._run(row)

    def set_suite_score(self, model_sha256: str, score: float, clean_laps: int, laps: int,
                        rows: list | None = None, suite: str = "robustness") -> None:
        """Store (or replace) a model file's suite score. Committed before this returns."""
        with self._guard():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute("INSERT OR REPLACE INTO suite_scores (model_sha256, suite, score, clean_laps, "
                                  "laps, rows, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  (model_sha256, suite, float(score), int(clean_laps), int(laps),
                                   json.dumps(rows) if rows is not None else None, utc_now()))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def suite_scores(self, suite: str = "robustness") -> dict[str, float]:
        """model sha256 -> its stored score on `suite` (clean laps / laps)."""
        with self._guard():
            rows = self.conn.execute("SELECT model_sha256, score FROM suite_scores WHERE suite = ?",
                                     (suite,)).fetchall()
        return {sha: float(score) for sha, score in rows}

    def count(self) -> int:
        with self._guard():
            return int(self.conn.execute("SELECT count(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Leaderboard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, row: tuple) -> Run:
        data = dict(zip(["id", *COLUMNS], row))
        try:
            for name in JSON_FIELDS:
                if data[name] is not None:
                    data[name] = json.loads(data[name])
            data["dnf"] = bool(data["dnf"])
            return Run(**data)
        except ValueError as exc:
            raise LeaderboardError(f"{self.path}: result #{data['id']} is unreadable ({exc})") from None

    @contextmanager
    def _guard(self):
        with sqlite_errors(self.path):
            yield


@contextmanager
def sqlite_errors(path: Path):
    """sqlite3's errors as one-line LeaderboardErrors naming the file."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise LeaderboardError(f"{path}: the leaderboard stayed locked by another process for "
                                   f"{BUSY_TIMEOUT_S:g} s; try again") from None
        raise LeaderboardError(f"{path}: {exc}") from None
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise LeaderboardError(f"{path}: the leaderboard database is damaged ({exc}); {LEFT_AS_IS}") from None


def _open(path: Path) -> sqlite3.Connection:
    """Connect, check the file is a racekit leaderboard (or new), switch to WAL, migrate."""
    if path.is_dir():
        raise LeaderboardError(f"{path}: is a directory, not a leaderboard file")
    if path.exists():
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:  # checked before SQLite touches it: nothing can be written
            raise LeaderboardError(f"{path}: not a racekit leaderboard (not an SQLite database); {LEFT_AS_IS}")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LeaderboardError(f"{path}: cannot create the leaderboard ({exc.strerror or exc})") from None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise LeaderboardError(f"{path}: cannot open the leaderboard ({exc})") from None
    try:
        with sqlite_errors(path):
            version = _check(conn, path)
            if version < LATEST:
                if version > 0:
                    _backup(conn, path, version)
                _wal(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # another process may have created or upgraded the file since it was checked
                    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                    if current < LATEST:
                        migrate(conn, current)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            else:
                _wal(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _check(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; LeaderboardError for foreign, newer or damaged files. Reads only."""
    # One read transaction: all three reads see the same snapshot. Read one by one, another process
    # creating the file could commit in between (application_id still 0 but user_version already set),
    # and a fresh leaderboard would look like another program's file.
    conn.execute("BEGIN")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.execute("COMMIT")
    if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables):
        listed = f", tables {', '.join(tables[:5])}" if tables else ""
        raise LeaderboardError(f"{path}: an SQLite file of another program (application_id {app_id:#x}{listed}), "
                               f"not a racekit leaderboard; {LEFT_AS_IS}")
    if version > LATEST:
        raise LeaderboardError(f"{path}: written by a newer racekit (leaderboard schema {version}; this racekit "
                               f"reads up to {LATEST}); upgrade racekit. {LEFT_AS_IS}")
    problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise LeaderboardError(f"{path}: the leaderboard database is damaged ({problems[0]}); {LEFT_AS_IS}")
    return version


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """A copy of an old-schema file before it is upgraded in place (kept if one is already there)."""
    target = path.with_name(f"{path.name}.v{version}.bak")
    if not target.exists():
        copy = sqlite3.connect(target)
        try:
            conn.backup(copy)
        finally:
            copy.close()


def _wal(conn: sqlite3.Connection) -> None:
    """WAL mode (persistent in the file). Switching needs a moment alone with the file: retried, bounded."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
