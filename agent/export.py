"""Exporting a run to the ONNX model file (DESIGN.md section 5): the contract between sim and car.

The file holds the deterministic policy only (no value head, no sampling):
input "frames" uint8 [batch, H, W, C] exactly as the env yields them (and for a
car with a LIDAR, input "lidar" float32 [batch, N]: the sensor's form), output
"action" float32 [batch, 2] = (steering_deg, speed_mps). metadata_props["racekit"]
is a JSON object with the camera spec ("cameras": 2 for a stereo pair), the
sensors ("sensors", sim/sensors.py's names; "lidar_config"), action space, control rate, track,
reward sha256, training steps, racekit version and creation time (hardware/model.py
reads exactly this), and what the policy was trained on (`trained_on`): tracks
(names, files or "generated"), directions ("forward" or "both"), race_type and
race_options, randomize (a preset's name, "file:NAME" or "none") and from (the
model a --from run started from: path, checkpoint, sha256, run, global_step), and
trained_latency: the command latency its randomisation drew ({"steps": [low, high],
"control_hz", "ms": [low, high]}; 0-0 without), which `racekit car drive` compares
with the capture-to-command delay it measures.

Checkpoints are found here too (`find_checkpoint`, `load_policy_checkpoint`),
so `racekit evaluate` and `racekit export` read a run the same way.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from racekit.agent.checkpoint import CheckpointError, load_checkpoint
from racekit.agent.policy import ActionSpec, ActorCritic, DeterministicPolicy

METADATA_KEY = "racekit"
FORMAT = 1
CONTROL_HZ = 15.0  # the env's default control rate, which every run trains at
OPSET = 17
INPUT_NAME, OUTPUT_NAME = "frames", "action"
LIDAR_INPUT = "lidar"  # a model with a LIDAR: its float32 [batch, N] values, the sensor's form (sim/sensors.py)


class ExportError(Exception):
    """A run, checkpoint or output path that cannot be used; str() is one line naming the path."""


def racekit_version() -> str:
    """The installed racekit's version (agent/ must not import the racekit package)."""
    try:
        return version("racekit")
    except PackageNotFoundError:
        return "unknown"


def find_checkpoint(run: str | os.PathLike, which: str | None = None) -> Path:
    """The checkpoint file of a run dir (or a .pt file given directly).

    which: "best" or "last"; None = best.pt if the run has one (it is written at the
    first evaluation), else last.pt.
    """
    path = Path(run)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ExportError(f"{path}: no such run directory or checkpoint file")
    folder = path / "checkpoints"
    if which is not None:
        if which not in ("best", "last"):
            raise ExportError(f"{path}: checkpoint must be 'best' or 'last', got {which!r}")
        wanted = folder / f"{which}.pt"
        if not wanted.is_file():
            if not (folder / "last.pt").is_file():
                raise ExportError(f"{path}: not a racekit run (no checkpoints/last.pt)")
            raise ExportError(f"{wanted}: no such checkpoint (no evaluation has been run yet?)")
        return wanted
    for name in ("best.pt", "last.pt"):
        if (folder / name).is_file():
            return folder / name
    raise ExportError(f"{path}: not a racekit run (no checkpoints/best.pt or last.pt)")


def spec_from_dict(actions: dict) -> ActionSpec:
    """ActionSpec.as_dict() read back."""
    if actions["type"] == "discrete":
        return ActionSpec(table=tuple(tuple(map(float, a)) for a in actions["actions"]))
    steering, speed = actions["steering_deg"], actions["speed_mps"]
    return ActionSpec(low=(float(steering[0]), float(speed[0])), high=(float(steering[1]), float(speed[1])))


def distribution_of(state: dict) -> str:
    """The policy distribution a checkpoint's run trained (checkpoints from before there was a choice: gaussian;
    a SAC run's: SAC's tanh-squashed Gaussian, whose greedy action tanh(mean) is what gets exported)."""
    run = state.get("run") or {}
    if run.get("algorithm") == "sac":
        return "squashed"
    if (state.get("actions") or {}).get("type") == "discrete":
        return "gaussian"  # an action list's policy is a categorical, whatever the PPO settings say
    return (run.get("ppo") or {}).get("distribution", "gaussian")


def network_of(state: dict) -> dict | str:
    """The network a checkpoint's policy has (checkpoints from before there was a choice: racekit's)."""
    return state.get("network") or "racekit"


def load_policy_checkpoint(path: Path) -> tuple[DeterministicPolicy, dict]:
    """A checkpoint file -> (the deterministic policy in eval mode, the checkpoint dict)."""
    state = load_checkpoint(path)
    missing = {"obs_shape", "actions", "camera"} - set(state)
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(sorted(missing))} (not written by racekit train?)")
    try:
        model = ActorCritic(tuple(state["obs_shape"]), spec_from_dict(state["actions"]),
                            distribution=distribution_of(state), network=network_of(state),
                            lidar_size=state.get("lidar_size", 0))
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: the stored network does not fit its own spec ({first})") from None
    policy = DeterministicPolicy(model).eval()
    return policy, state


def metadata(state: dict, checkpoint: Path, racekit_version_: str | None = None) -> dict:
    """The model file's racekit metadata for a checkpoint dict (every field hardware/model.py reads, and more)."""
    run = state.get("run") or {}
    camera = dict(state["camera"])
    sensors = {"sensors": list(camera.get("sensors") or ["front-camera"]),
               **({"lidar_config": camera["lidar_config"]} if camera.get("lidar_config") else {})}
    keys = ("width", "height", "channels", "fov_deg", "frame_stack", "cameras")
    return {
        "format": FORMAT,
        "racekit_version": racekit_version_ or racekit_version(),
        "camera": {k: camera[k] for k in keys if k in camera},
        **sensors,
        "control_hz": float(run.get("control_hz", CONTROL_HZ)),
        "action_space": state["actions"],
        "track": run.get("track"),
        "reward_sha256": state.get("reward_sha256"),
        "training_steps": int(state.get("global_step", 0)),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checkpoint": checkpoint.name,
        **trained_on(run),
        **trained_latency(run),
    }


def trained_latency(run: dict) -> dict:
    """{"trained_latency": {"steps", "control_hz", "ms"}}: the command latency the run's randomisation drew
    (0-0 steps without randomisation, or with its latency field off), so the car can warn when its own
    capture-to-command delay is longer; {} when the run's randomisation file cannot be read any more."""
    from racekit.sim.randomization import RandomizationError, as_randomization

    hz = float(run.get("control_hz", CONTROL_HZ))
    try:
        config = as_randomization(run.get("randomize"))
    except (RandomizationError, OSError):
        return {}
    steps = list(config.latency) if config is not None and config.latency is not None else [0, 0]
    return {"trained_latency": {"steps": steps, "control_hz": hz,
                                "ms": [round(steps[0] * 1000.0 / hz, 1), round(steps[1] * 1000.0 / hz, 1)]}}


def trained_on(run: dict) -> dict:
    """What the policy was trained on, from the run's config (a run from before these fields: one track
    forwards, a time trial, no randomisation, from scratch). `tracks`: names, files or "generated"."""
    race_type = run.get("race_type") or "time-trial"
    options = {"object-avoidance": ("num_objects", "object_positions"),
               "head-to-bot": ("num_bots", "bot_speed", "bot_lane_changes")}.get(race_type, ())
    randomize = run.get("randomize")
    if randomize is not None and (Path(randomize).suffix or "/" in randomize or os.sep in randomize):
        randomize = f"file:{Path(randomize).name}"
    return {"tracks": list(run.get("tracks") or [run.get("track")]),
            "directions": "both" if run.get("alternate_direction") else "forward",
            "race_type": race_type, "race_options": {k: run[k] for k in options if run.get(k) is not None},
            "randomize": randomize or "none", "from": run.get("from_model")}


def onnx_bytes(policy: DeterministicPolicy, obs_shape: tuple[int, int, int]) -> bytes:
    """The policy as an ONNX graph with a dynamic batch dimension: input "frames", and "lidar" when the policy
    reads a LIDAR."""
    lidar_size = policy.model.lidar_size
    names = [INPUT_NAME, LIDAR_INPUT] if lidar_size else [INPUT_NAME]
    example = (torch.zeros((1, *obs_shape), dtype=torch.uint8),)
    if lidar_size:
        example += (torch.zeros((1, lidar_size), dtype=torch.float32),)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.13 marks the TorchScript exporter deprecated; it is the one that handles this graph
        # (uint8 in, argmax gather for discrete) without extra dependencies
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(policy, example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=names, output_names=[OUTPUT_NAME],
                          dynamic_axes={**{name: {0: "batch"} for name in names}, OUTPUT_NAME: {0: "batch"}})
    return buffer.getvalue()


def export_onnx(run: str | os.PathLike, out: str | os.PathLike, which: str | None = None,
                racekit_version_: str | None = None) -> dict:
    """Write the run's best (or `which`) checkpoint to `out` as a racekit model file; returns its metadata.

    Raises ExportError (bad run dir or output path) or CheckpointError (corrupt checkpoint), one line each.
    """
    checkpoint = find_checkpoint(run, which)
    policy, state = load_policy_checkpoint(checkpoint)
    meta = metadata(state, checkpoint, racekit_version_)
    write_atomically(Path(out), model_file_bytes(policy, tuple(state["obs_shape"]), meta))
    return meta


def model_file_bytes(policy: DeterministicPolicy, obs_shape: tuple[int, int, int], meta: dict) -> bytes:
    """The racekit model file: the policy's ONNX graph with `meta` as its racekit metadata."""
    import onnx

    model = onnx.load_from_string(onnx_bytes(policy, obs_shape))
    model.producer_name = "racekit"
    model.producer_version = meta["racekit_version"]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_atomically(out: Path, data: bytes) -> None:
    """Temporary file beside `out`, then rename: a car never loads half a model."""
    if out.is_dir():
        raise ExportError(f"{out}: is a directory; give the model file's name, e.g. {out / 'model.onnx'}")
    ancestor = next(p for p in out.parents if p.exists())  # mkdir's own error would say "File exists"
    if not ancestor.is_dir():
        raise ExportError(f"{out}: cannot write the model file ({ancestor} is a file, not a folder)")
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is meant to be copied around
        os.replace(tmp, out)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"{out}: cannot write the model file ({exc.strerror or exc})") from None
