"""Observations in the learner: a camera's uint8 frames, or, for a car with a LIDAR, a dict keyed by sensor.

The env (sim/env.py) yields an array for a camera alone and a dict {camera sensor: frames, LIDAR sensor: vector}
when the car has a LIDAR. These few functions let the collector, PPO and the workers handle both without
asking which (torch is imported only where tensors are made): `obs_map` applies a function to every tensor of an observation, whatever its form, and `split`
gives a model its two inputs.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces

from racekit.sim.sensors import CAMERAS, LIDARS


def obs_map(fn, obs):
    """fn applied to the observation's array (or to each of its sensors' arrays)."""
    return {key: fn(value) for key, value in obs.items()} if isinstance(obs, dict) else fn(obs)


def obs_len(obs) -> int:
    """How many observations a batch holds."""
    return len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)


def as_tensors(obs):
    """An observation from the env (numpy) as torch tensors, without a copy."""
    import torch  # here: racing an ONNX model evaluates without torch

    return obs_map(lambda value: torch.from_numpy(np.asarray(value)), obs)


def obs_zeros(space: spaces.Space, *leading: int):
    """Zeroed buffers for `leading`-shaped batches of observations from `space` (a Box, or a Dict of Boxes)."""
    import torch

    def zeros(box: spaces.Box):
        dtype = torch.uint8 if box.dtype == np.uint8 else torch.float32
        return torch.zeros((*leading, *box.shape), dtype=dtype)

    if isinstance(space, spaces.Dict):
        return {key: zeros(box) for key, box in space.spaces.items()}
    return zeros(space)


def obs_assign(buffer, index, value) -> None:
    """buffer[index] = value, for every sensor."""
    if isinstance(buffer, dict):
        for key in buffer:
            buffer[key][index] = value[key]
    else:
        buffer[index] = value


def model_inputs(space: spaces.Space) -> tuple[tuple[int, ...], int]:
    """(the camera's frame shape, how many LIDAR values; 0 without a LIDAR) of an env's observation space."""
    if not isinstance(space, spaces.Dict):
        return tuple(space.shape), 0
    camera = next(box for key, box in space.spaces.items() if key in CAMERAS)
    lidar = next((box for key, box in space.spaces.items() if key in LIDARS), None)
    return tuple(camera.shape), (int(lidar.shape[0]) if lidar is not None else 0)


def split(obs):
    """(camera frames, LIDAR vector or None) of one observation or a batch."""
    if not isinstance(obs, dict):
        return obs, None
    frames = next(value for key, value in obs.items() if key in CAMERAS)
    return frames, next((value for key, value in obs.items() if key in LIDARS), None)
