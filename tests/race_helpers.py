"""Model files for the race and leaderboard tests, written by the trainer's own exporter.

constant_model: DeepRacer's network (agent.policy) with the actor set to one action, exported
by agent.export: it drives straight, leaves the oval at each bend and is put back, so it
exercises off-tracks, penalties and DNFs in a fraction of a second. cloned_model: the
expert cloned from a few hundred frames (agent.imitation, about 2 s): it laps the oval cleanly.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import torch

from racekit.agent.checkpoint import save_checkpoint
from racekit.agent.export import export_onnx
from racekit.agent.imitation import imitate, normalise
from racekit.agent.policy import ActorCritic
from racekit.agent.train import RunConfig


def constant_model(path: Path, steering: float = 0.0, speed: float = 2.0, track: str = "oval",
                   frame_stack: int = 1, seed: int = 0, sensors: tuple = ("front-camera",)) -> Path:
    """A model file whose every output is (steering, speed); `sensors` as `racekit train --sensor`."""
    from racekit.sim.sensors import LIDARS, lidar_space

    cfg = RunConfig(track=track, frame_stack=frame_stack, sensors=list(sensors))
    cfg.ppo.distribution = "gaussian"  # its mean is the actor's bias, set below
    spec = cfg.action_spec()
    cameras = 2 if "stereo-cameras" in sensors else 1
    obs_shape = (cfg.camera_height, cfg.camera_width, frame_stack * cameras)
    lidar = next((s for s in sensors if s in LIDARS), None)
    lidar_size = lidar_space(lidar).shape[0] if lidar else 0
    with torch.random.fork_rng():  # seeded here, and the caller's random state left as it was
        torch.manual_seed(seed)  # the trunk's weights (and so the file's sha256) differ by seed
        model = ActorCritic(obs_shape, spec, lidar_size=lidar_size)
    with torch.no_grad():
        model.actor.weight.zero_()
        model.actor.bias.copy_(torch.from_numpy(normalise([steering, speed], spec)))
    state = {"model": model.state_dict(), "optimizer": {}, "global_step": 0, "run": cfg.to_json(),
             "obs_shape": list(obs_shape), "actions": spec.as_dict(), "camera": cfg.camera(),
             "reward_sha256": "ab" * 32, **({"lidar_size": lidar_size} if lidar_size else {})}
    checkpoint = path.with_suffix(".pt")
    save_checkpoint(checkpoint, state)
    export_onnx(checkpoint, path)
    return path


_CLONES: dict[tuple[int, int], Path] = {}  # (samples, seed) -> a folder holding run/ and clone.onnx, never changed


def cloned_model(folder: Path, samples: int = 800, seed: int = 0) -> Path:
    """A model that laps the oval cleanly at about 2 m/s (8.5 to 9 s a lap): folder/clone.onnx, and the run it
    was exported from in folder/run. Cloned once per test process for each (samples, seed), then copied into
    `folder` (the test modules that race it each get their own copy)."""
    key = (samples, seed)
    if key not in _CLONES:
        made = Path(tempfile.mkdtemp(prefix="racekit-clone-"))
        atexit.register(shutil.rmtree, made, True)
        before = torch.get_num_threads()
        torch.set_num_threads(1)  # far faster than two threads on a 2-core machine doing other work
        try:
            run = imitate(made / "run", RunConfig(track="oval", frame_stack=1), max_speed=2.0, samples=samples,
                          epochs=4, seed=seed)
            export_onnx(run, made / "clone.onnx")
        finally:
            torch.set_num_threads(before)
        _CLONES[key] = made
    shutil.copytree(_CLONES[key], folder, dirs_exist_ok=True)
    return folder / "clone.onnx"
