"""Evaluating a driver with DeepRacer's rules: N laps in a row, off-tracks put back with a penalty.

A driver is any function from a batch of observations, uint8 frames (1, H, W, C) or for a car with a LIDAR
a dict of them and its (1, N) values, to (1, 2) (steering_deg, speed_mps): the PyTorch policy or an ONNX
model through onnxruntime, so a checkpoint and its exported file are judged the same way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from racekit.agent.observations import obs_map, split
from racekit.agent.simtrace import EvaluationTrace
from racekit.sim.env import TimeTrialEnv

MAX_RESETS = 20


def camera_kwargs(camera: dict) -> dict:
    """Env arguments for a model's camera spec (racekit model-file format): its size, channels and frame stack,
    and where it says so its lens ("fov_deg"), its mount ("mount": the env's camera_mount) and the world's look
    ("look"), so the model sees what it was trained on (absent: racekit's); and the sensors it reads ("sensors",
    sim/sensors.py's names, "lidar_config"; absent: the front camera alone)."""
    kwargs = {"camera_width": camera["width"], "camera_height": camera["height"],
              "grayscale": camera["channels"] == 1, "frame_stack": camera["frame_stack"]}
    if camera.get("fov_deg") is not None:
        kwargs["fov_deg"] = float(camera["fov_deg"])
    if camera.get("mount") is not None:
        kwargs["camera_mount"] = camera["mount"]
    if camera.get("look") is not None:
        kwargs["look"] = camera["look"]
    if list(camera.get("sensors") or ["front-camera"]) != ["front-camera"]:  # a stereo pair, a LIDAR
        kwargs["sensors"] = list(camera["sensors"])
        if camera.get("lidar_config"):
            kwargs["lidar_config"] = camera["lidar_config"]
    return kwargs


def action_bounds(action_space: dict) -> dict:
    """A continuous env wide enough for the model's physical outputs (discrete models too)."""
    if action_space["type"] == "discrete":
        table = np.array(action_space["actions"], dtype=float)
        low, high = table.min(axis=0), table.max(axis=0)
        return {"steering_range": (min(low[0], -1.0), max(high[0], 1.0)),
                "speed_range": (min(low[1], high[1] - 0.1), high[1])}
    return {"steering_range": tuple(action_space["steering_deg"]), "speed_range": tuple(action_space["speed_mps"])}


def evaluate(driver: Callable[[np.ndarray], np.ndarray], track, camera: dict, action_space: dict, laps: int = 3,
             reverse: bool = False, seed: int = 0, on_step=None, env_kwargs: dict | None = None,
             simtrace: Path | None = None) -> dict:
    """Race `laps` laps from the start line; returns lap times, off-tracks per lap and completion.

    With `simtrace`, a folder, the race's DeepRacer sim-trace goes to simtrace/evaluation-simtrace/0-iteration.csv.
    """
    env = TimeTrialEnv(track=track, reverse=reverse, laps=laps, race=True, max_resets=MAX_RESETS,
                       info_params=on_step is not None, **camera_kwargs(camera), **action_bounds(action_space),
                       **(env_kwargs or {}))
    trace = EvaluationTrace(env.track, action_space) if simtrace is not None else None
    try:
        obs, info = env.reset(seed=seed, options={"start_fraction": 0.0})
        if trace is not None:
            trace.on_reset(info)
        offtracks_per_lap, before = [], 0
        while True:
            action = np.asarray(driver(obs_map(lambda x: x[None], obs)), dtype=np.float32).reshape(-1)[:2]
            obs, reward, terminated, truncated, info = env.step(action)
            if trace is not None:
                trace.on_step(action, reward, terminated, truncated, info, env.penalties)
            if on_step is not None:
                on_step(env, obs, info)
            if len(info["lap_times"]) > len(offtracks_per_lap):
                offtracks_per_lap.append(info["offtracks"] + info["crashes"] - before)
                before = info["offtracks"] + info["crashes"]
            if terminated or truncated:
                break
    finally:
        env.close()
    if trace is not None:
        trace.write(simtrace)
    times = info["lap_times"]
    completion = 100.0 * (len(times) + (0 if info["termination"] == "lap_complete" else info["progress"] / 100)) / laps
    clean = [t for t, off in zip(times, offtracks_per_lap) if off == 0]
    return {"track": env.track.name, "laps": laps, "lap_times": times, "offtracks_per_lap": offtracks_per_lap,
            "offtracks": info["offtracks"], "crashes": info["crashes"], "resets": info["resets"],
            "completion": round(completion, 2), "termination": info["termination"],
            "clean_laps": len(clean), "all_clean": len(clean) == laps,
            "mean_lap_time": float(np.mean(times)) if times else None,
            "best_lap_time": float(min(times)) if times else None, "sim_time": info["sim_time"]}


def torch_driver(policy) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    policy.eval()

    def drive(obs) -> np.ndarray:
        frames, lidar = split(obs)
        with torch.no_grad():
            return policy(torch.from_numpy(frames), None if lidar is None else torch.from_numpy(lidar)).numpy()

    return drive
