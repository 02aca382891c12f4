"""The model store: uploaded models under the data directory, one of them active.

    DATA/models/SHA256.onnx   a model, named by its content: never rewritten once there
    DATA/models/SHA256.json   its record (the name it was uploaded as, size, time, camera spec, sensors)
    DATA/state.json           {"active": SHA256 or null, "history": [previously active, oldest first]}
    DATA/uploads/             uploads in progress (emptied at start)

An upload streams into a temporary file while its SHA-256 is computed; only
a whole file whose hash matches the one the sender declared, which the car
runtime's own check (hardware.model.load_policy) accepts, and whose sensors the
car has (`check`: hardware/server/sensors.py) is renamed into models/.
Activation rewrites state.json with os.replace: the car sees the old
state or the new one, never a mix. The name a user gives is only a label, never
a path: names that look like paths are refused anyway, so a mistake is loud.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from typing import Callable

from racekit.hardware.errors import ModelError
from racekit.hardware.model import load_policy

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SHA_RE = re.compile(r"[0-9a-f]{64}")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # DeepRacer-sized models are a few MB
DEFAULT_KEEP = 10  # models kept for rollback (the active one always stays)


class StoreError(Exception):
    """A refused request: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name or "") or ".." in name:
        raise StoreError(400, f"bad model name {name!r}: use letters, digits, '.', '_' and '-' "
                              "(at most 100), no path")
    return name


def check_sha(value: str | None, what: str = "sha256") -> str:
    value = (value or "").strip().lower()
    if not SHA_RE.fullmatch(value):
        raise StoreError(400, f"{what} must be 64 hex digits")
    return value


def _fsync_dir(path: str) -> None:
    # The rename is only durable once the directory entry is on the SD card.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: str, value) -> None:
    tmp = f"{path}.tmp{threading.get_ident()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Upload:
    """One upload in progress: `write` chunks, then ModelStore.commit (or `discard`)."""

    def __init__(self, directory: str, max_bytes: int):
        fd, self.path = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
        self._fh = os.fdopen(fd, "wb")
        self.max_bytes = max_bytes
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.committed = False  # renamed into the store: `path` may soon name another upload's file

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise StoreError(413, f"model larger than the limit of {self.max_bytes} bytes")
        self.sha256.update(chunk)
        self._fh.write(chunk)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def discard(self) -> None:
        self._fh.close()
        if self.committed:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass  # committed (renamed away) or already gone


class ModelStore:
    def __init__(self, data_dir: str, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP,
                 check: Callable[[list], str | None] | None = None):
        """`check(sensors)`: why this car cannot drive a model reading these sensors, or None."""
        self.models_dir = os.path.join(data_dir, "models")
        self.uploads_dir = os.path.join(data_dir, "uploads")
        self.state_path = os.path.join(data_dir, "state.json")
        self.max_bytes = max_bytes
        self.keep = keep
        self.check = check
        self._lock = threading.Lock()  # state.json and pruning: one writer at a time
        os.makedirs(self.models_dir, exist_ok=True)
        os.makedirs(self.uploads_dir, exist_ok=True)
        for leftover in os.listdir(self.uploads_dir):  # uploads cut off by a restart
            os.unlink(os.path.join(self.uploads_dir, leftover))

    # -- reading ------------------------------------------------------------
    def model_path(self, sha: str) -> str:
        return os.path.join(self.models_dir, f"{check_sha(sha)}.onnx")

    def state(self) -> dict:
        try:
            with open(self.state_path, encoding="utf-8") as fh:
                state = json.load(fh)
        except FileNotFoundError:
            return {"active": None, "history": []}
        return {"active": state.get("active"), "history": list(state.get("history", []))}

    def record(self, sha: str) -> dict | None:
        try:
            with open(os.path.join(self.models_dir, f"{check_sha(sha)}.json"), encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None

    def active(self) -> dict | None:
        """The active model's record (with "path"), or None."""
        sha = self.state()["active"]
        record = self.record(sha) if sha else None
        return None if record is None else dict(record, path=self.model_path(sha))

    def list(self) -> list[dict]:
        """Every stored model, newest upload first, marked active or not."""
        state = self.state()
        records = []
        for entry in os.listdir(self.models_dir):
            stem, ext = os.path.splitext(entry)
            if ext == ".json" and SHA_RE.fullmatch(stem) and (record := self.record(stem)):
                records.append(dict(record, active=stem == state["active"]))
        return sorted(records, key=lambda r: r["uploaded"], reverse=True)

    # -- writing ------------------------------------------------------------
    def begin_upload(self) -> Upload:
        return Upload(self.uploads_dir, self.max_bytes)

    def commit(self, upload: Upload, name: str, declared_sha: str, declared_size: int | None) -> dict:
        """Check a finished upload and move it into the store; StoreError says why not."""
        upload.close()
        if declared_size is not None and upload.size != declared_size:
            raise StoreError(400, f"upload truncated: {upload.size} of {declared_size} bytes arrived")
        got = upload.sha256.hexdigest()
        if got != declared_sha:
            raise StoreError(400, f"sha256 mismatch: the car received {got}, the sender declared {declared_sha}")
        try:
            policy = load_policy(upload.path)
        except ModelError as exc:
            message = str(exc).replace(upload.path, name)  # the temporary path means nothing to the user
            raise StoreError(422, f"not a model this car can run: {message}") from None
        self._check(name, list(policy.spec.sensors), 422)  # so it is never stored, activated or started
        cam = policy.spec.camera
        record = {"name": name, "sha256": got, "size": upload.size, "uploaded": time.time(),
                  "camera": {"width": cam.width, "height": cam.height, "channels": cam.channels,
                             "frame_stack": cam.frame_stack},
                  "control_hz": policy.spec.control_hz, "action_space": policy.spec.action_space.type,
                  "sensors": list(policy.spec.sensors)}
        final = self.model_path(got)
        # Same bytes as a stored model: the rename replaces a file with an identical one.
        os.replace(upload.path, final)
        upload.committed = True
        _write_json(os.path.join(self.models_dir, f"{got}.json"), record)
        _fsync_dir(self.models_dir)
        self._prune()
        return record

    def activate(self, sha: str) -> dict:
        sha = check_sha(sha)
        with self._lock:
            record = self.record(sha)
            if record is None or not os.path.isfile(self.model_path(sha)):
                raise StoreError(404, f"no model {sha} on this car")
            self._check(record["name"], record.get("sensors"), 409)  # stored when the car had other sensors
            state = self.state()
            if state["active"] != sha:
                history = [h for h in state["history"] if h != sha]
                if state["active"]:
                    history.append(state["active"])
                _write_json(self.state_path, {"active": sha, "history": history[-self.keep:]})
        return record

    def rollback(self) -> dict:
        """Activate the model that was active before the current one."""
        with self._lock:
            state = self.state()
            history = [h for h in state["history"] if self.record(h) and os.path.isfile(self.model_path(h))]
            if not history:
                raise StoreError(409, "no earlier model to roll back to")
            previous = history.pop()
            record = self.record(previous)
            self._check(record["name"], record.get("sensors"), 409)
            _write_json(self.state_path, {"active": previous, "history": history})
            return record

    def _check(self, name: str, sensors: list | None, status: int) -> None:
        """StoreError when the car lacks a sensor the model reads (no "sensors" in a record: the front camera)."""
        refusal = self.check(sensors or ["front-camera"]) if self.check is not None else None
        if refusal:
            raise StoreError(status, f"not a model this car can run: {name}: {refusal}")

    def _prune(self) -> None:
        """Drop the oldest models beyond `keep`, never the active one."""
        with self._lock:
            active = self.state()["active"]
            old = [r for r in self.list() if r["sha256"] != active][max(self.keep - 1, 0):]
            for record in old:
                for ext in (".onnx", ".json"):
                    try:
                        os.unlink(os.path.join(self.models_dir, record["sha256"] + ext))
                    except FileNotFoundError:
                        pass  # another prune got there first
