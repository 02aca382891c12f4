"""Opening a model to drive it: a training run or checkpoint (PyTorch), or a model file (ONNX).

`open_driver` is the one way the evaluator, the robustness suite and the analysis report get a
driver; a `.onnx` file is opened with the car's own loader (hardware.model.load_policy), so what races
here is what the car would run. `action_space_of` turns the car's ActionSpace into the dict the env
and the leaderboard take, for racing.check_model too.

Errors are the lower layers' own, each one line naming the file: hardware.errors.ModelError,
agent.export.ExportError, agent.checkpoint.CheckpointError.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Driver:
    """A policy ready to drive: `drive(obs) -> [(steering, speed)]` (obs: a batch of one observation, frames or
    a dict of a camera's frames and a LIDAR's values, as the env gives them), with what it expects."""

    drive: Callable
    camera: dict  # width, height, channels, frame_stack; fov_deg, mount, look, sensors where the model says
    # (agent/evaluate.py's camera_kwargs)
    actions: dict  # {"type": "discrete", "actions": [...]} or {"type": "continuous", "steering_deg", "speed_mps"}
    track: str | None  # the track it was trained on, where it says (a run on several: the first it drove)
    description: str  # "runs/x/checkpoints/best.pt (PyTorch, 50000 training steps)"
    tracks: list = field(default_factory=list)  # every track it was trained on: names, files or "generated"


def action_space_of(space) -> dict:
    """hardware.model.ActionSpace as the dict of a run's config and a model's metadata."""
    if space.type == "discrete":
        return {"type": "discrete", "actions": [list(a) for a in space.actions]}
    return {"type": "continuous", "steering_deg": list(space.steering_deg), "speed_mps": list(space.speed_mps)}


def sensor_fields(spec) -> dict:
    """A hardware.model.ModelSpec's sensors as a camera dict's "sensors" and "lidar_config" (agent/evaluate.py's
    camera_kwargs hands them to the env); none for the front camera alone."""
    if spec.sensors == ("front-camera",):
        return {}
    fields = {"sensors": list(spec.sensors)}
    if spec.lidar_config is not None:
        config = spec.lidar_config
        fields["lidar_config"] = {"num_sectors": config.num_sectors, "clipping_dist": config.clipping_dist,
                                  "num_values_per_sector": config.num_values_per_sector}
    return fields


def open_driver(model: str, checkpoint: str | None = None) -> Driver:
    """A run directory, a checkpoint .pt or a model .onnx, ready to drive (`checkpoint`: best or last of a run)."""
    if str(model).endswith(".onnx"):
        return _onnx_driver(str(model))
    from racekit.agent.evaluate import torch_driver
    from racekit.agent.export import find_checkpoint, load_policy_checkpoint, trained_on

    path = find_checkpoint(model, checkpoint)
    policy, state = load_policy_checkpoint(path)
    run = state.get("run") or {}
    return Driver(torch_driver(policy), state["camera"], state["actions"], run.get("track"),
                  f"{path} (PyTorch, {state['global_step']} training steps)", trained_on(run)["tracks"])


def _onnx_driver(model: str) -> Driver:
    from racekit.hardware.model import load_policy

    policy = load_policy(model)  # exactly as the car loads it: onnxruntime, contract checks
    spec = policy.spec
    camera = {"width": spec.camera.width, "height": spec.camera.height, "channels": spec.camera.channels,
              "frame_stack": spec.camera.frame_stack}
    for key in ("fov_deg", "mount", "look"):  # the lens, mount and look it was trained with: the env shows them
        if getattr(spec.camera, key) is not None:
            camera[key] = getattr(spec.camera, key)
    if spec.camera.cameras != 1:
        camera["cameras"] = spec.camera.cameras  # a stereo pair: analyze shows each camera
    camera.update(sensor_fields(spec))

    def drive(obs):
        from racekit.agent.observations import split

        return [policy.act(*split(obs))]  # onnxruntime failing or a NaN: ModelError, one line

    steps = spec.extra.get("training_steps")
    track = spec.extra.get("track")
    return Driver(drive, camera, action_space_of(spec.action_space), track,
                  f"{model} (onnxruntime, {steps} training steps)", list(spec.extra.get("tracks") or [track]))
