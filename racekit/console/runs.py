"""A run folder's state, read from the files `racekit train` writes: nothing is kept anywhere else.

    config.json          the run's settings (track, race type, steps or minutes, stop rule)
    metrics.csv          a row per update: steps, wall seconds of the session, mean return and progress
    evaluations.jsonl    a line per evaluation: lap times, clean laps, completion
    checkpoints/last.pt  the run can be resumed and exported
    train.log            what the console's `racekit train` printed (a run started in a terminal has none)

Whether a run trains is asked of the operating system (processes.py): a run started from a terminal
shows as training too, and one stopped from a terminal as stopped.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from racekit.agent.logbook import best_evaluation

LOG = "train.log"
SUBMITTED_REWARD = "submitted_reward.py"  # the reward code the console was given (train copies it to reward_function.py)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_DEPTH = 3  # runs/NAME, runs/GROUP/NAME, runs/A/B/NAME
FINISHED_LINES = ("done: ", "time budget reached at step", "clean laps: ")


class RunPathError(ValueError):
    """A run id from a page that is not a run folder under the runs folder."""


def check_name(name: str) -> str:
    """A new run's name: one folder name of letters, digits, '.', '_', '-' (no path, no odd characters)."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.strip(".") == "":
        raise ValueError("name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
                         "(no '/', spaces or other characters)")
    return name


def run_dir(root: Path, run_id: str) -> Path:
    """The folder of run `run_id` (its path under root, '/'-separated); RunPathError unless it stays inside root."""
    parts = run_id.split("/") if isinstance(run_id, str) else []
    if not parts or len(parts) > MAX_DEPTH or any(not NAME.fullmatch(p) or p.strip(".") == "" for p in parts):
        raise RunPathError(f"run {run_id!r}: not a run name")
    root = root.resolve()
    path = (root / Path(*parts)).resolve()
    if path == root or not path.is_relative_to(root):  # a symbolic link out of the runs folder
        raise RunPathError(f"run {run_id!r}: outside the runs folder")
    return path


IMPORTED = "imported.json"  # an imported model's folder (model_files.py)
QUEUED = "queued.json"  # a training waiting for a free slot (jobs.py)


def is_run(path: Path) -> bool:
    """A training run's folder (one queued to start too), or an imported model's."""
    return any((path / name).is_file() for name in ("config.json", LOG, IMPORTED, QUEUED, SUBMITTED_REWARD))


def find_runs(root: Path) -> list[str]:
    """Every run folder under root (up to MAX_DEPTH deep), as ids relative to root, sorted."""
    found = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if is_run(child):
                found.append(child.relative_to(root).as_posix())
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    if root.is_dir():
        walk(root, 1)
    return found


@dataclass
class RunInfo:
    id: str
    state: str  # training, queued, stopped, finished, failed
    reason: str = ""
    track: str | None = None
    race_type: str | None = None
    algorithm: str | None = None
    steps: int = 0
    seconds_trained: float = 0.0
    best: dict | None = None
    evaluations: int = 0
    created: str | None = None
    can_resume: bool = False
    pid: int | None = None
    limits: dict = field(default_factory=dict)
    imported: str | None = None  # an imported model: onnx or deepracer

    def as_json(self) -> dict:
        return asdict(self)


def read_config(path: Path) -> dict | None:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("run"), dict) else None


def metric_rows(path: Path) -> list[dict]:
    """metrics.csv's complete rows ([] if there is none yet); a row still being written is left for later."""
    try:
        text = (path / "metrics.csv").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            row["global_step"], row["wall_seconds"] = int(row["global_step"]), float(row["wall_seconds"])
        except (KeyError, TypeError, ValueError):
            continue
        rows.append(row)
    return rows


def evaluations(path: Path) -> list[dict]:
    """evaluations.jsonl's complete lines."""
    try:
        text = (path / "evaluations.jsonl").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def seconds_trained(rows: list[dict]) -> float:
    """Wall seconds over every session: wall_seconds starts again from 0 when a run is resumed."""
    total, last = 0.0, 0.0
    for row in rows:
        if row["wall_seconds"] < last:
            total += last
        last = row["wall_seconds"]
    return total + last


def best_summary(results: list[dict], race_type: str | None) -> dict | None:
    """The best evaluation as racekit train ranks them (agent/logbook.py `better`), in brief."""
    best = best_evaluation(results, race_type or "time-trial")
    if best is None:
        return None
    return {k: best.get(k) for k in ("global_step", "clean_laps", "laps", "completion", "best_lap_time",
                                     "mean_lap_time", "all_clean")}


def log_tail(path: Path, lines: int = 40) -> list[str]:
    """The last lines of the console's train.log ([] if there is none); progress-bar carriage returns folded."""
    log = path / LOG
    try:
        with open(log, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    out = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return [line for line in out if line.strip()][-lines:]


def ended_by_log(path: Path) -> tuple[str, str] | None:
    """(state, reason) from the last session's closing lines in train.log, if they are there and current."""
    tail = log_tail(path, 12)
    if not tail:
        return None
    metrics = path / "metrics.csv"
    try:
        if metrics.is_file() and metrics.stat().st_mtime > (path / LOG).stat().st_mtime + 5:
            return None  # the run went on after the console's session (a resume from a terminal)
    except OSError:
        return None
    for line in reversed(tail):
        if line.startswith("racekit: error:"):
            return "failed", line[len("racekit: error:"):].strip()
        if line.startswith("racekit: interrupted"):
            return "stopped", "stopped"
        if line.startswith(FINISHED_LINES):
            return "finished", line.strip()
        if line.startswith("Traceback"):
            return "failed", tail[-1].strip()
    return None


def ended_by_files(cfg: dict, rows: list[dict], results: list[dict]) -> tuple[str, str]:
    """finished or stopped, from the run's own limits: a run started in a terminal has no train.log."""
    run = cfg["run"]
    if not rows:
        return "stopped", "no update yet"
    last = rows[-1]
    steps, minutes = run.get("steps"), run.get("minutes")
    if steps is not None and last["global_step"] >= steps:
        return "finished", f"reached {steps:,} steps"
    try:
        update_s = (last["global_step"] - (rows[-2]["global_step"] if len(rows) > 1 else 0)) / float(last["steps_per_second"])
    except (TypeError, ValueError, ZeroDivisionError):
        update_s = 0.0
    if minutes is not None and last["wall_seconds"] + update_s >= 60 * minutes:
        return "finished", f"trained its {minutes:g} minutes"
    if run.get("stop_when_clean") and results and results[-1].get("all_clean"):
        return "finished", "clean laps"
    return "stopped", "stopped"


def run_info(root: Path, run_id: str, pid: int | None = None, queued: bool = False) -> RunInfo:
    """The state of one run; pid: its live training process, if any (processes.py)."""
    path = run_dir(root, run_id)
    if (path / IMPORTED).is_file() and not (path / "config.json").is_file():
        return imported_info(path, run_id)
    cfg = read_config(path)
    rows, results = metric_rows(path), evaluations(path)
    info = RunInfo(id=run_id, state="stopped", pid=pid, evaluations=len(results),
                   steps=rows[-1]["global_step"] if rows else 0, seconds_trained=seconds_trained(rows),
                   can_resume=(path / "checkpoints" / "last.pt").is_file())
    if cfg is not None:
        run = cfg["run"]
        info.track = run.get("track") or ", ".join(run.get("tracks") or [])
        info.race_type, info.algorithm = run.get("race_type"), run.get("algorithm", "ppo")
        info.created = cfg.get("created")
        info.limits = {"steps": run.get("steps"), "minutes": run.get("minutes")}
    info.best = best_summary(results, info.race_type)
    if pid is not None:
        info.state, info.reason = "training", f"process {pid}"
    elif queued:
        info.state, info.reason = "queued", "waiting for a free training slot"
    else:
        ended = ended_by_log(path)
        if ended is None and cfg is None:
            ended = ("stopped", "taken off the queue before it started") if (path / SUBMITTED_REWARD).is_file() \
                and not (path / LOG).is_file() else ("failed", "no config.json: the training did not start")
        info.state, info.reason = ended or ended_by_files(cfg, rows, results)
    return info


def imported_info(path: Path, run_id: str) -> RunInfo:
    """An imported model: what its model file says of itself, as imported.json keeps it."""
    try:
        record = json.loads((path / IMPORTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    kind = {"deepracer": "a DeepRacer model", "onnx": "a model file"}.get(record.get("kind"), "a model")
    return RunInfo(id=run_id, state="imported", reason=f"imported from {kind}: {record.get('source', '?')}",
                   track=record.get("track"), race_type=record.get("race_type"), algorithm=record.get("algorithm"),
                   steps=record.get("steps") or 0, created=record.get("imported"),
                   can_resume=False, imported=record.get("kind"))


def curves(path: Path, max_points: int = 400) -> dict:
    """The run's curves for the page: metrics.csv's mean return, progress and best lap per update, and each
    evaluation's lap times, thinned to max_points."""
    rows = [r for r in metric_rows(path) if r.get("mean_progress")]
    stride = max(1, -(-len(rows) // max_points))
    picked = rows[::stride] + ([rows[-1]] if rows and (len(rows) - 1) % stride else [])

    def number(value):
        try:
            return round(float(value), 4)
        except (TypeError, ValueError):
            return None

    return {"step": [r["global_step"] for r in picked],
            "reward": [number(r.get("mean_return")) for r in picked],
            "progress": [number(r.get("mean_progress")) for r in picked],
            "lap_time": [number(r.get("best_lap_time")) for r in picked],
            "evaluations": [{"step": e.get("global_step"), "mean_lap_time": e.get("mean_lap_time"),
                             "clean_laps": e.get("clean_laps"), "laps": e.get("laps"),
                             "completion": e.get("completion"), "all_clean": e.get("all_clean")}
                            for e in evaluations(path)]}
