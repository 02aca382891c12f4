"""Checkpoints: written atomically, so a run killed at any moment resumes from the last whole one."""
from __future__ import annotations

import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import torch


class CheckpointError(Exception):
    """A checkpoint that cannot be used; str() names the file."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _signals_held():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM wait until the block is done, then reach their own handlers.

    torch.save interrupted midway replaces the KeyboardInterrupt with an error of its own, so a run
    stopped while writing would end with a traceback instead of its message. (Blocking the signal in
    this thread is not enough: torch's threads could take it.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever reach Python handlers in the main thread
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a damaged file's bytes can make unpickling raise anything (MemoryError too)
        raise CheckpointError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {exc})") from None
    missing = {"model", "optimizer", "global_step", "run"} - set(state) if isinstance(state, dict) else {"model"}
    if missing:
        raise CheckpointError(f"{path}: not a racekit checkpoint (missing {', '.join(sorted(missing))})")
    return state
