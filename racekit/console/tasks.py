"""A model's evaluations from the page: a race, the robustness suite, the analysis, each a `racekit`
subprocess writing into its own folder of the run, RUN/tasks/STAMP-KIND/:

    task.json     what the console started: kind, command, pid, options, start time; "cancelled" once cancelled
    output.log    the command's output, line by line
    race:         <date>-NAME-*/replay.mp4 and map.png (racekit race --out), its result on the leaderboard
    robustness:   robustness.json and robustness.png (racekit evaluate --suite robustness --out)
    analysis:     report.html (racekit analyze --out)

A task's state is read from these files and from whether its process is alive, so a console started again
shows the same tasks, and the leaderboard holds the races like any other.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from racekit.console import processes
from racekit.console.jobs import RACEKIT, JobError

FOLDER = "tasks"
KINDS = ("race", "robustness", "analysis")
FILES = {"race": ("replay.mp4", "map.png"), "robustness": ("robustness.png", "robustness.json"),
         "analysis": ("report.html",)}
LOG = "output.log"
TASK = "task.json"
TASK_ID = re.compile(r"\d{8}-\d{6}-(race|robustness|analysis)(-\d+)?")
CANCEL_GRACE_S = 5.0  # after SIGTERM, before SIGKILL


@dataclass
class TaskInfo:
    id: str
    kind: str
    state: str  # running, done, failed, cancelled
    started: str = ""
    options: dict = field(default_factory=dict)
    progress: float | None = None  # 0..1 where the output says
    line: str = ""  # the output's last line
    error: str | None = None
    result: dict | None = None
    files: dict = field(default_factory=dict)  # name: present

    def as_json(self) -> dict:
        return asdict(self)


class Tasks:
    """Starts tasks and keeps their processes, so that they are reaped; everything else is in the folders."""

    def __init__(self, extra_args: dict[str, list[str]] | None = None):
        self.extra_args = dict(extra_args or {})  # tests: fewer robustness conditions, a small replay video
        self._started: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, run: Path, kind: str, argv: list[str], options: dict, db: Path | None = None) -> str:
        """`racekit ARGV` (with OUT replaced by the task's folder) for the run in `run`; the task's id.
        JobError if a task of this kind runs for this run already."""
        if any(t.kind == kind and t.state == "running" for t in self.list(run)):
            raise JobError(f"a {kind} of this model runs already; wait for it to end")
        with self._lock:
            folder = new_folder(run, kind)
            command = [str(folder) if a == "OUT" else str(folder / a[4:]) if a.startswith("OUT/") else a
                       for a in [*argv, *self.extra_args.get(kind, [])]]
            with open(folder / LOG, "wb") as log:
                process = subprocess.Popen([*RACEKIT, *command], stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, cwd=str(folder), start_new_session=True,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
            self._started[str(folder)] = process
            record = {"kind": kind, "command": ["racekit", *command], "pid": process.pid, "options": options,
                      "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "db": str(db) if db else None}
            (folder / TASK).write_text(json.dumps(record, indent=1), encoding="utf-8")
        return folder.name

    def alive(self, folder: Path, pid: int | None) -> bool:
        process = self._started.get(str(folder))
        if process is not None:
            if process.poll() is None:
                return True
            del self._started[str(folder)]  # reaped
            return False
        if not pid:
            return False
        seen = processes.running_with(pid, str(folder)) or processes.running_with(pid, str(folder / "report.html"))
        return bool(seen)

    def cancel(self, folder: Path) -> None:
        """Stop a running task's process group (SIGTERM, then SIGKILL after CANCEL_GRACE_S) and record the
        cancel in its task.json, so it reads cancelled rather than failed. JobError if it is not running."""
        try:
            record = json.loads((folder / TASK).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        pid = record.get("pid")
        if not pid or not self.alive(folder, pid):  # also: the pid is still this task's process, not a reused one
            raise JobError(f"task {folder.name} is not running ({self.info(folder).state}); nothing to cancel")
        record["cancelled"] = True  # first: the state reads cancelled the moment the process is gone
        temporary = folder / (TASK + ".tmp")
        temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(temporary, folder / TASK)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)  # its own session (start_new_session): the group is the task and its children
            except ProcessLookupError:
                return
            deadline = time.monotonic() + CANCEL_GRACE_S
            while time.monotonic() < deadline and self.alive(folder, pid):
                time.sleep(0.1)
            if not self.alive(folder, pid):
                return

    def list(self, run: Path) -> list[TaskInfo]:
        """The run's tasks, newest first."""
        root = run / FOLDER
        if not root.is_dir():
            return []
        found = sorted((p for p in root.iterdir() if TASK_ID.fullmatch(p.name) and (p / TASK).is_file()), reverse=True)
        return [self.info(p) for p in found]

    def info(self, folder: Path) -> TaskInfo:
        try:
            record = json.loads((folder / TASK).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        kind = record.get("kind") if record.get("kind") in KINDS else folder.name.split("-")[2]
        lines = log_lines(folder)
        info = TaskInfo(id=folder.name, kind=kind, state="running", started=record.get("started", ""),
                        options=record.get("options") or {}, line=lines[-1] if lines else "")
        info.files = {name: find_file(folder, kind, name) is not None for name in FILES[kind]}
        done, info.progress = READERS[kind](folder, lines, record, info)
        errors = [line[len("racekit: error:"):].strip() for line in lines if line.startswith("racekit: error:")]
        if self.alive(folder, record.get("pid")):
            return info
        if done:
            info.state, info.progress = "done", 1.0
        elif record.get("cancelled"):
            info.state = "cancelled"
        else:
            info.state = "failed"
            info.error = errors[-1] if errors else (lines[-1] if lines else "it ended without a result")
        return info


def new_folder(run: Path, kind: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        folder = run / FOLDER / (f"{stamp}-{kind}" + (f"-{n}" if n else ""))
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise JobError("too many tasks started this second")


def log_lines(folder: Path) -> list[str]:
    try:
        text = (folder / LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line.rsplit("\r", 1)[-1] for line in text.splitlines() if line.strip()]


def find_file(folder: Path, kind: str, name: str) -> Path | None:
    """A task's output file by name: in its folder, or (a race's replay) one folder down."""
    if name not in FILES.get(kind, ()):
        return None
    found = [folder / name] + sorted(folder.glob(f"*/{name}"))
    for path in found:
        if path.is_file() and path.resolve().is_relative_to(folder.resolve()):
            return path
    return None


def read_race(folder: Path, lines: list[str], record: dict, info: TaskInfo) -> tuple[bool, float | None]:
    laps = int((record.get("options") or {}).get("laps") or 3)
    done_laps = sum(1 for line in lines if re.match(r"lap \d+: ", line.strip()))
    stored = [int(m.group(1)) for line in lines if (m := re.search(r"stored as result #(\d+)", line))]
    if stored:
        info.result = race_result(record.get("db"), stored[-1])
    return bool(stored), min(1.0, done_laps / laps)


def race_result(db: str | None, result_id: int) -> dict | None:
    """The race's row on the leaderboard: lap times, off-tracks, crashes, resets, completion."""
    from racekit.leaderboard.db import LeaderboardError, open_board

    try:
        board = open_board(db, create=False)
        if board is None:
            return None
        with board:
            run = board.get(result_id)
    except LeaderboardError:
        return None
    if run is None:
        return None
    planned = run.laps_planned or len(run.lap_times) or 1
    return {"result_id": result_id, "track": run.track, "direction": run.direction, "race_type": run.race_type,
            "racer": run.racer, "lap_times": run.lap_times, "offtracks": run.offtracks, "crashes": run.crashes,
            "resets": run.resets, "dnf": run.dnf, "laps_planned": planned,
            "offtracks_per_lap": run.offtracks_per_lap, "crashes_per_lap": run.crashes_per_lap,
            "completion": round(100.0 * len(run.lap_times) / planned, 1),
            "total": round(sum(run.lap_times), 3) if run.lap_times else None}


def read_robustness(folder: Path, lines: list[str], record: dict, info: TaskInfo) -> tuple[bool, float | None]:
    total = next((int(m.group(1)) for line in lines if (m := re.search(r", (\d+) conditions, ", line))), None)
    rows = [line for line in lines if re.match(r"\[\s*\d+/\s*\d+\] ", line)]
    try:
        result = json.loads((folder / "robustness.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = None
    if result is not None:
        info.result = {k: result.get(k) for k in ("score", "clean_laps", "laps")}
    return result is not None, (len(rows) / total if total else None)


def read_analysis(folder: Path, lines: list[str], record: dict, info: TaskInfo) -> tuple[bool, float | None]:
    return (folder / "report.html").is_file() and any(line.startswith("wrote ") for line in lines), None


READERS = {"race": read_race, "robustness": read_robustness, "analysis": read_analysis}
