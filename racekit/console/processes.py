"""Which runs are training now: the `racekit train --out DIR` processes alive on this machine.

Asked of the operating system each time (Linux's /proc), so a training started from a terminal shows as
training, and one stopped from a terminal (or one that crashed) no longer does. A fork of a training
process (its rollout workers) carries the same command line; the topmost one is the training.
Where there is no /proc, only the trainings this console started are known (jobs.py passes them in).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _out_of(argv: list[str], cwd: str) -> Path | None:
    """The --out folder of a `racekit train` command line, resolved against its working folder."""
    for i, arg in enumerate(argv):
        if arg == "train" and i > 0 and _is_racekit(argv[:i]):
            rest = argv[i + 1:]
            for j, opt in enumerate(rest):
                if opt == "--out" and j + 1 < len(rest):
                    out = rest[j + 1]
                elif opt.startswith("--out="):
                    out = opt[len("--out="):]
                else:
                    continue
                return (Path(cwd) / out).resolve()
            return None
    return None


def _is_racekit(head: list[str]) -> bool:
    """`racekit`, `.venv/bin/racekit`, `python -m racekit` or `python racekit/__main__.py` before `train`."""
    last, first = head[-1], Path(head[0]).name
    if last.endswith("racekit/__main__.py"):
        return True
    return Path(last).name == "racekit" and (len(head) == 1 or head[-2] == "-m" or first.startswith("python"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # the process ended while we looked, or is not ours to read
        return None


def trainings() -> dict[Path, int]:
    """{resolved run folder: pid} for every live `racekit train` process ({} without /proc)."""
    if not PROC.is_dir():
        return {}
    found: dict[int, tuple[Path, int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        raw = _read(entry / "cmdline")
        if not raw or b"train" not in raw:
            continue
        argv = raw.decode("utf-8", errors="replace").rstrip("\0").split("\0")
        try:
            cwd = os.readlink(entry / "cwd")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if " Z " in stat[stat.rfind(")"):stat.rfind(")") + 4]:
            continue  # a zombie: it has ended, its parent has not reaped it yet
        out = _out_of(argv, cwd)
        if out is not None:
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
            found[int(entry.name)] = (out, ppid)
    runs: dict[Path, int] = {}
    for pid, (out, ppid) in sorted(found.items()):
        if ppid in found and found[ppid][0] == out:
            continue  # a rollout worker forked from the training
        runs.setdefault(out, pid)
    return runs


def alive(pid: int) -> bool:
    """The process exists and has not ended (a zombie counts as ended)."""
    stat = _read(PROC / str(pid) / "stat")
    if stat is not None:
        text = stat.decode("latin-1")
        return text[text.rfind(")") + 2:][:1] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_with(pid: int, argument: str) -> bool | None:
    """Process `pid` is alive and `argument` is one of its command line's arguments (so a pid the system
    gave to another process since is not taken for it); None where there is no /proc to ask."""
    if not PROC.is_dir():
        return None
    raw = _read(PROC / str(pid) / "cmdline")
    return bool(raw) and alive(pid) and argument in raw.decode("utf-8", errors="replace").split("\0")


def ignores_sigint(pid: int) -> bool:
    """Whether process `pid` ignores SIGINT (Ctrl-C). A program started in the background by a
    non-interactive shell (`racekit train ... &` in a script, or a console or test run started that way)
    ignores it, and its children inherit that: Ctrl-C cannot stop them, SIGTERM can. False without /proc."""
    raw = _read(PROC / str(pid) / "status")
    for line in (raw or b"").decode("latin-1").splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False
