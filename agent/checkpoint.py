"""Checkpoints: written atomically, so a run killed at any moment resumes from the last whole one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from racekit.agent.signals import signals_held


class CheckpointError(Exception):
    """A checkpoint that cannot be used; str() names the file."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with signals_held():
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


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a damaged file's bytes can make unpickling raise anything (MemoryError too)
        reason = " ".join(str(exc).split())  # some of torch's messages span lines; the error stays one
        raise CheckpointError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {reason})") from None
    missing = {"model", "optimizer", "global_step", "run"} - set(state) if isinstance(state, dict) else {"model"}
    if missing:
        raise CheckpointError(f"{path}: not a racekit checkpoint (missing {', '.join(sorted(missing))})")
    return state
