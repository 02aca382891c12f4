"""Models as files: a clone's `racekit train --from` options, a model file imported from an upload, and a
model exported as DeepRacer's car tarball.

An imported model has a folder of its own under the runs folder, as a run has:

    imported.json    what the console was given: the file's name, its kind (onnx, deepracer), sha256, when,
                     and what the model file says of itself (track, race type, camera, actions)
    model.onnx       the model file (an uploaded .onnx as it was; a DeepRacer tarball through
                     `racekit models import`)
    source.tar.gz    a DeepRacer upload as it was: `racekit train --from` trains on from it
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

from racekit.console.jobs import RACEKIT, JobError

IMPORTED = "imported.json"
SOURCE = "source.tar.gz"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
IMPORT_TIMEOUT_S = 300
KINDS = {".onnx": "onnx", ".tar.gz": "deepracer", ".tgz": "deepracer"}
RACEKIT_LENS = {"fov_deg": 120.0, "camera_mount": "racekit", "look": "racekit"}


def read_imported(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / IMPORTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def upload_kind(filename: str) -> str:
    """onnx or deepracer, from the uploaded file's name; ValueError saying what is taken."""
    for ending, kind in KINDS.items():
        if filename.lower().endswith(ending):
            return kind
    raise ValueError(f"file: {filename or 'no name'}: upload a model file (.onnx) or a DeepRacer model (.tar.gz)")


def clone_options(folder: Path) -> list[str]:
    """`racekit train` options that start a new run from this run or imported model (--from) with the same
    network, camera, sensors and action space; JobError saying in one line why it cannot be."""
    imported = read_imported(folder)
    if imported is not None:
        if imported.get("kind") != "deepracer" or not (folder / SOURCE).is_file():
            raise JobError("a model file cannot be trained on: racekit train --from takes a run or a DeepRacer model")
        return ["--from", str(folder / SOURCE)]  # its network, camera and action space come with it
    from racekit.console.runs import read_config

    cfg = read_config(folder)
    if cfg is None:
        raise JobError("this run has no config.json: it never started")
    run = cfg["run"]
    if (run.get("from_model") or {}).get("path", "").endswith((".tar.gz", ".tgz", ".pb")) or any(
            run.get(k, v) != v for k, v in RACEKIT_LENS.items()):
        raise JobError("this run has a DeepRacer model's camera: clone the DeepRacer model it started from")
    argv = ["--from", str(folder), "--algorithm", run.get("algorithm", "ppo"), "--network", run.get("network", "racekit"),
            "--camera", f"{run['camera_width']}x{run['camera_height']}", "--frame-stack", str(run["frame_stack"])]
    if not run.get("grayscale", True):
        argv.append("--rgb")
    for sensor in run.get("sensors") or ["front-camera"]:
        argv += ["--sensor", sensor]
    lidar = run.get("lidar_config") or {}
    for option, key in (("--lidar-sectors", "num_sectors"), ("--lidar-values", "num_values_per_sector"),
                        ("--lidar-clip", "clipping_dist")):
        if "discretized-sector-lidar" in (run.get("sensors") or []) and key in lidar:
            argv += [option, f"{lidar[key]:g}"]
    if run.get("actions") is not None:
        from racekit.sim import DEEPRACER_ACTIONS

        if [list(a) for a in run["actions"]] == [list(a) for a in DEEPRACER_ACTIONS]:
            argv.append("--discrete")
        elif (folder / "model" / "model_metadata.json").is_file():  # the run's own list, as DeepRacer writes it
            argv += ["--actions", str(folder / "model" / "model_metadata.json")]
        else:
            raise JobError("its action list of its own is in no model/model_metadata.json to start from")
    else:
        argv += ["--steering-range", *(f"{v:g}" for v in run["steering_range"]),
                 "--speed-range", *(f"{v:g}" for v in run["speed_range"])]
    if run.get("algorithm", "ppo") == "ppo":
        argv += ["--distribution", (run.get("ppo") or {}).get("distribution", "gaussian")]
    return argv


def import_model(folder: Path, upload: Path, filename: str) -> dict:
    """The uploaded file at `upload` (in `folder`) made the folder's model.onnx, and imported.json written;
    ValueError with one line if it is not a model racekit can read (the folder is the caller's to remove)."""
    from racekit.racing import RaceError, check_model

    kind = upload_kind(filename)
    out = folder / "model.onnx"
    if kind == "onnx":
        upload.rename(out)
    else:
        upload.rename(folder / SOURCE)
        done = subprocess.run([*RACEKIT, "models", "import", str(folder / SOURCE), "-o", str(out)], capture_output=True,
                              text=True, timeout=IMPORT_TIMEOUT_S, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise ValueError(f"file: {filename}: {_why(last_line(done), folder / SOURCE)}")
    try:
        entrant = check_model(out)
    except (RaceError, OSError) as exc:
        why = _why(str(exc).splitlines()[0], out).split(" ([ONNXRuntimeError]")[0]
        raise ValueError(f"file: {filename} is not a model file racekit reads: {why} (a model .onnx comes from "
                         f"racekit export or racekit models import)") from None
    meta = entrant.metadata
    record = {"source": filename, "kind": kind, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
              "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "track": meta.get("track"),
              "race_type": meta.get("race_type", "time-trial"), "algorithm": meta.get("algorithm"),
              "steps": meta.get("training_steps") or 0, "action_space": meta.get("action_space"),
              "camera": meta.get("camera")}
    (folder / IMPORTED).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return record


def _why(message: str, path: Path) -> str:
    """A command's message about the file at `path`, without the path (the page names the file)."""
    return message.removeprefix(f"{path}: ").removeprefix(f"{path.name}: ").replace(str(path), path.name)


def last_line(done: subprocess.CompletedProcess, path: str = "", name: str = "") -> str:
    lines = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
    line = lines[-1].removeprefix("racekit: error: ")
    return line.replace(path, name) if path else line


def export_deepracer(folder: Path, run_id: str) -> Path:
    """`racekit export --format deepracer` of the run (or imported model) into FOLDER/model.tar.gz, unless that
    is newer than what it is made from; JobError with the command's one-line reason if it cannot be."""
    imported = read_imported(folder)
    source = folder / "model.onnx" if imported is not None else folder
    made_from = [folder / "model.onnx"] if imported is not None else list((folder / "checkpoints").glob("*.pt"))
    if not made_from:
        raise JobError(f"run {run_id}: no checkpoint to export yet")
    out = folder / "model.tar.gz"
    if out.is_file() and out.stat().st_mtime >= max(p.stat().st_mtime for p in made_from):
        return out
    done = subprocess.run([*RACEKIT, "export", str(source), "--format", "deepracer", "-o", str(out)],
                          capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        out.unlink(missing_ok=True)
        why = last_line(done).removeprefix(f"{source}: ").replace(str(folder), run_id)
        raise JobError(f"{run_id} cannot be a DeepRacer model: {why}")
    return out
