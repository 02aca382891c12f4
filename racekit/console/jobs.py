"""Long work as `racekit` subprocesses: trainings (queued beyond a limit), reward checks and exports.

A training is `racekit train ... --out RUNS/NAME` writing its output to RUNS/NAME/train.log: the run
folder holds everything, so a console started again (or a terminal) sees the same run. A training that
waits for a free slot is a file in its run folder too, RUNS/NAME/queued.json (its options and when it was
queued): the queue is those files, oldest first, so it survives a restart of the console. A console
starting one takes the file away first (a second console over the same folder cannot start it twice).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from racekit.console import processes
from racekit.console.runs import LOG, MAX_DEPTH, QUEUED, run_dir

RACEKIT = [sys.executable, "-m", "racekit"]
CHECK_TIMEOUT_S = 120
EXPORT_TIMEOUT_S = 300


class JobError(Exception):
    """Work the console cannot do now (the run trains, it is not training, ...); str() says why."""


def default_max_trainings() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass
class Training:
    run_id: str
    argv: list[str]  # after `racekit train`
    process: subprocess.Popen | None = None


class Jobs:
    """The trainings this console started or queued, over the runs folder `root`."""

    def __init__(self, root: Path, max_trainings: int | None = None, extra_train_args: list[str] | None = None):
        self.root = Path(root).resolve()
        self.max_trainings = max_trainings or default_max_trainings()
        self.extra_train_args = list(extra_train_args or [])  # tests: a tiny camera, few envs
        self._lock = threading.Lock()
        self._started: dict[str, Training] = {}

    # -- what is training -------------------------------------------------------------------------------
    def live(self) -> dict[str, int]:
        """{run id: pid} of every training of a run under the runs folder, whoever started it."""
        out: dict[str, int] = {}
        for folder, pid in processes.trainings().items():
            if folder.is_relative_to(self.root) and folder != self.root:
                out[folder.relative_to(self.root).as_posix()] = pid
        for run_id, job in list(self._started.items()):  # where there is no /proc, and just after a start
            if job.process is not None and job.process.poll() is None:
                out.setdefault(run_id, job.process.pid)
        return out

    def _queue(self) -> list[Training]:
        """The queued trainings (RUN/queued.json under the runs folder), oldest first."""
        found = []
        for depth in range(1, MAX_DEPTH + 1):
            for path in self.root.glob("/".join(["*"] * depth) + "/" + QUEUED):
                run_id = path.parent.relative_to(self.root).as_posix()
                try:
                    run_dir(self.root, run_id)
                    record = json.loads(path.read_text(encoding="utf-8"))
                    argv, when = [str(a) for a in record["argv"]], float(record["queued"])
                except (OSError, ValueError, KeyError, TypeError):  # RunPathError is a ValueError
                    continue  # taken away meanwhile, or not one of ours
                found.append((when, Training(run_id, argv)))
        return [job for _, job in sorted(found, key=lambda pair: pair[0])]

    def queued(self) -> list[str]:
        return [job.run_id for job in self._queue()]

    # -- starting ---------------------------------------------------------------------------------------
    def submit(self, run_id: str, argv: list[str]) -> str:
        """Queue `racekit train ARGV --out RUN` and start what fits; returns "training" or "queued"."""
        folder = run_dir(self.root, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        record = json.dumps({"argv": list(argv), "queued": time.time()})
        try:
            with open(folder / QUEUED, "x", encoding="utf-8") as fh:
                fh.write(record)
        except FileExistsError:
            raise JobError(f"run {run_id}: already queued") from None
        self.pump()
        return "queued" if run_id in self.queued() else "training"

    def pump(self) -> None:
        """Reap ended trainings and start queued ones while fewer than max_trainings train."""
        with self._lock:
            for run_id, job in list(self._started.items()):
                if job.process is not None and job.process.poll() is not None:
                    del self._started[run_id]
            live = self.live()
            for job in self._queue():
                if len(live) >= self.max_trainings:
                    break
                if job.run_id in live or not self._take(job.run_id):
                    continue  # it trains already (from a terminal), or another console took it
                self._start(job)
                live[job.run_id] = job.process.pid

    def _take(self, run_id: str) -> bool:
        """Take a training off the queue: its queued.json away; False if it was not there (any more)."""
        try:
            (run_dir(self.root, run_id) / QUEUED).unlink()
            return True
        except FileNotFoundError:
            return False

    def _start(self, job: Training) -> None:
        folder = run_dir(self.root, job.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        extra = [] if "--resume" in job.argv else self.extra_train_args  # a resumed run keeps its own settings
        with open(folder / LOG, "ab") as log:
            log.write(f"$ racekit train {' '.join(job.argv)}\n".encode())
            log.flush()
            job.process = subprocess.Popen(
                [*RACEKIT, "train", *job.argv, *extra, "--out", str(folder), "--quiet"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(self.root),
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log's lines as they are printed
                start_new_session=True)  # Ctrl-C on the console does not stop the trainings
        self._started[job.run_id] = job

    def cancel(self, run_id: str) -> bool:
        """Take a queued training off the queue; False if it was not queued."""
        with self._lock:
            return self._take(run_id)

    def stop(self, run_id: str) -> int:
        """SIGINT to the run's training (racekit train keeps its checkpoint and says so in the log); its pid.
        A training started in the background by a non-interactive shell ignores SIGINT: it gets SIGTERM.
        A queued training is taken off the queue (pid 0). JobError if it is neither."""
        if self.cancel(run_id):
            return 0
        pid = self.live().get(run_id)
        if pid is None:
            raise JobError(f"run {run_id}: not training")
        try:  # Ctrl-C, or SIGTERM (which racekit train takes as Ctrl-C) to one that ignores Ctrl-C
            os.kill(pid, signal.SIGTERM if processes.ignores_sigint(pid) else signal.SIGINT)
        except ProcessLookupError:
            raise JobError(f"run {run_id}: not training (its process has just ended)") from None
        return pid

    def close(self) -> None:
        """The console stops: started trainings go on in their own sessions, queued ones wait in their folders
        for the next console."""


def reward_check(code: str, track: str, race_type: str, steps: int = 200) -> dict:
    """`racekit reward check` on `code` for this track and race type: {ok, line, error, warnings, output}.
    The file is written as reward_function.py in a fresh temporary folder, so messages name that file."""
    with tempfile.TemporaryDirectory(prefix="racekit-console-") as tmp:
        path = Path(tmp) / "reward_function.py"
        path.write_text(code, encoding="utf-8")
        try:
            done = subprocess.run([*RACEKIT, "reward", "check", str(path), "--track", track, "--race-type",
                                   race_type, "--steps", str(steps)], capture_output=True, text=True,
                                  timeout=CHECK_TIMEOUT_S, cwd=tmp, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"ok": False, "line": None, "error": f"the check took over {CHECK_TIMEOUT_S} s", "warnings": [],
                    "output": ""}
        out = (done.stdout + done.stderr).replace(str(path), "reward_function.py")
    errors = [line for line in out.splitlines() if line.startswith("racekit: error:")]
    warnings = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("warning:")]
    error = errors[-1][len("racekit: error:"):].strip() if errors else None
    if done.returncode != 0 and error is None:
        error = (out.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    match = re.search(r"reward_function\.py line (\d+)", error or "")
    return {"ok": done.returncode == 0, "line": int(match.group(1)) if match else None, "error": error,
            "warnings": warnings, "output": out}


def export_onnx(root: Path, run_id: str) -> Path:
    """`racekit export RUN -o RUN/model.onnx` unless model.onnx is newer than the run's checkpoints."""
    folder = run_dir(root, run_id)
    out = folder / "model.onnx"
    if (folder / "imported.json").is_file() and out.is_file():
        return out  # an imported model is its model file
    checkpoints = [p.stat().st_mtime for p in (folder / "checkpoints").glob("*.pt")]
    if not checkpoints:
        raise JobError(f"run {run_id}: no checkpoint to export yet")
    if out.is_file() and out.stat().st_mtime >= max(checkpoints):
        return out
    done = subprocess.run([*RACEKIT, "export", str(folder), "-o", str(out)], capture_output=True, text=True,
                          timeout=EXPORT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
        raise JobError(f"run {run_id}: export failed: {lines[-1]}")
    return out
