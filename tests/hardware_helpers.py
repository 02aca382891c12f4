"""Shared pieces of the hardware tests: tiny ONNX models, videos, a simulated clock and camera.

The models are built with onnx.helper (a test-only dependency; the car runtime
reads them with onnxruntime alone) and follow racekit's model-file contract.
"""
from __future__ import annotations

import json
import math
import time

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper

from racekit.hardware.camera import FrameInfo


def metadata(width=32, height=24, channels=1, frame_stack=2, control_hz=15, action_space=None, **extra) -> dict:
    meta = {
        "format": 1, "racekit_version": "0.1.0",
        "camera": {"width": width, "height": height, "channels": channels, "fov_deg": 120,
                   "frame_stack": frame_stack},
        "control_hz": control_hz,
        "action_space": action_space or {"type": "continuous", "steering_deg": [-30, 30], "speed_mps": [0.5, 4.0]},
        "track": "test", "reward_sha256": "0" * 64, "training_steps": 123, "created": "2026-11-22T03:00:00Z",
    }
    meta.update(extra)
    return meta


def make_model(path, *, width=32, height=24, channels=1, frame_stack=2, control_hz=15, action_space=None,
               speed=2.0, gain=30.0 / 255.0, meta="default", input_name="frames", output_name="action",
               input_type=TensorProto.UINT8, input_shape=None, n_outputs=2, nan_below=None):
    """A model steering toward the brighter half of the picture: left brighter -> positive (left).

    steering_deg = gain * (mean(left half) - mean(right half)), speed_mps = `speed`.
    n_outputs: columns of the output (the contract says 2).
    nan_below: the output is NaN when the mean brightness is below this (a model fault on cue).
    meta: "default" = contract metadata from the size arguments; None = no metadata; a str = raw text.
    """
    depth = channels * frame_stack
    half = width // 2
    init = [
        helper.make_tensor("starts_l", TensorProto.INT64, [1], [0]),
        helper.make_tensor("ends_l", TensorProto.INT64, [1], [half]),
        helper.make_tensor("starts_r", TensorProto.INT64, [1], [width - half]),
        helper.make_tensor("ends_r", TensorProto.INT64, [1], [width]),
        helper.make_tensor("axis_w", TensorProto.INT64, [1], [2]),
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [gain]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("speed", TensorProto.FLOAT, [], [speed]),
        helper.make_tensor("nan_below", TensorProto.FLOAT, [], [nan_below if nan_below is not None else -1.0]),
    ]
    nodes = [
        helper.make_node("Cast", [input_name], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["f", "starts_l", "ends_l", "axis_w"], ["left"]),
        helper.make_node("Slice", ["f", "starts_r", "ends_r", "axis_w"], ["right"]),
        helper.make_node("ReduceMean", ["left"], ["ml"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["right"], ["mr"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["f"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Sub", ["ml", "mr"], ["diff"]),
        helper.make_node("Mul", ["diff", "gain"], ["steer0"]),
        # sqrt(mean - nan_below) * 0 is NaN exactly when the picture is darker than nan_below
        helper.make_node("Sub", ["mean", "nan_below"], ["excess"]),
        helper.make_node("Sqrt", ["excess"], ["root"]),
        helper.make_node("Mul", ["root", "zero"], ["poison"]),
        helper.make_node("Add", ["steer0", "poison"], ["steer"]),
        helper.make_node("Mul", ["diff", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "speed"], ["spd"]),
        helper.make_node("Unsqueeze", ["steer", "axis1"], ["steer2"]),
        helper.make_node("Unsqueeze", ["spd", "axis1"], ["spd2"]),
        helper.make_node("Concat", ["steer2"] + ["spd2"] * (n_outputs - 1), [output_name], axis=1),
    ]
    inp = helper.make_tensor_value_info(input_name, input_type, input_shape or ["batch", height, width, depth])
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", n_outputs])
    graph = helper.make_graph(nodes, "racekit_test_policy", [inp], [out], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if meta == "default":
        meta = json.dumps(metadata(width, height, channels, frame_stack, control_hz, action_space))
    if meta is not None:
        helper.set_model_props(model, {"racekit": meta})
    onnx.save(model, str(path))
    return path


LIDAR_SIZES = {"lidar": 64, "sector-lidar": 8}


def make_sensor_model(path, sensors=("front-camera",), *, width=32, height=24, frame_stack=2, channels=None,
                      channel_weights=None, lidar_weights=None, speed=2.0, lidar_config=None, lidar_size=None,
                      lidar_type=TensorProto.FLOAT, meta="default", input_names=None, control_hz=15):
    """A model of the sensor contract: input "frames" uint8 [batch, H, W, D] and, with a LIDAR, "lidar" float32
    [batch, N]; steering_deg = sum over channels c of channel_weights[c] * mean(frames[..., c])
    + lidar_weights . lidar, speed_mps = `speed`.

    D = cameras * channels * frame_stack (a stereo frame: grey left, grey right). Default weights: a stereo
    model steers toward the brighter camera (+30 deg when only the left one is white), a one-camera model
    straight; lidar_weights default to zeros. lidar_size / input_names / lidar_type / meta override what the
    sensors say, to build files that break the contract.
    """
    stereo = sensors[0] == "stereo-cameras"
    channels = channels or 1
    depth = (2 if stereo else 1) * channels * frame_stack
    if channel_weights is None:
        g = 30.0 / 255.0 / (channels * frame_stack)
        channel_weights = ([g] * channels + [-g] * channels) * frame_stack if stereo else [0.0] * depth
    lidar = next((s for s in sensors if s not in ("front-camera", "stereo-cameras")), None)
    if lidar_size is None and lidar is not None:
        config = lidar_config or {"num_sectors": 8, "num_values_per_sector": 8}
        lidar_size = LIDAR_SIZES.get(lidar) or config.get("num_sectors", 8) * config.get("num_values_per_sector", 8)
    names = input_names or (["frames"] + (["lidar"] if lidar_size else []))
    init = [helper.make_tensor("axes_hw", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("wc", TensorProto.FLOAT, [depth, 1], [float(w) for w in channel_weights]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("speed", TensorProto.FLOAT, [], [speed])]
    nodes = [helper.make_node("Cast", [names[0]], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["means"], axes=[1, 2], keepdims=0),
             helper.make_node("MatMul", ["means", "wc"], ["steer_cam"])]
    inputs = [helper.make_tensor_value_info(names[0], TensorProto.UINT8, ["batch", height, width, depth])]
    steer = "steer_cam"
    if len(names) > 1:
        weights = lidar_weights if lidar_weights is not None else [0.0] * lidar_size
        init.append(helper.make_tensor("wl", TensorProto.FLOAT, [lidar_size, 1], [float(w) for w in weights]))
        nodes += [helper.make_node("Cast", [names[1]], ["lf"], to=TensorProto.FLOAT),
                  helper.make_node("MatMul", ["lf", "wl"], ["steer_lidar"]),
                  helper.make_node("Add", ["steer_cam", "steer_lidar"], ["steer_all"])]
        inputs.append(helper.make_tensor_value_info(names[1], lidar_type, ["batch", lidar_size]))
        steer = "steer_all"
    nodes += [helper.make_node("Mul", [steer, "zero"], ["zeros"]),
              helper.make_node("Add", ["zeros", "speed"], ["spd"]),
              helper.make_node("Concat", [steer, "spd"], ["action"], axis=1)]
    out = helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 2])
    graph = helper.make_graph(nodes, "racekit_sensor_policy", inputs, [out], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if meta == "default":
        meta = metadata(width, height, channels, frame_stack, control_hz, sensors=list(sensors))
        if stereo:
            meta["camera"]["cameras"] = 2
        if lidar_config is not None:
            meta["lidar_config"] = lidar_config
    if meta is not None:
        helper.set_model_props(model, {"racekit": meta if isinstance(meta, str) else json.dumps(meta)})
    onnx.save(model, str(path))
    return path


def half_bright(height: int, width: int, bright: str, value: int = 255) -> np.ndarray:
    """A BGR frame with one bright half ('left' or 'right') and the other black."""
    frame = np.zeros((height, width, 3), np.uint8)
    if bright == "left":
        frame[:, : width // 2] = value
    else:
        frame[:, width // 2:] = value
    return frame


def write_video(path, frames: list[np.ndarray], fps: float = 15.0):
    """Write BGR frames as an MJPG .avi (OpenCV's headless build writes it without extra codecs)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


class FakeClock:
    """A simulated monotonic clock: `sleep` advances it, so loop timing is exact and instant."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> bool:
        self.t += max(seconds, 0.0)
        return False  # "not woken by a stop request"


class ScriptedCamera:
    """A camera on a simulated clock: `fps` frames per second from `start`, none after `stall_at`.

    `picture(t)` gives the BGR frame shown at time t.
    """

    def __init__(self, clock: FakeClock, picture, fps: float = 30.0, stall_at: float = math.inf):
        self.clock, self.picture, self.fps, self.stall_at = clock, picture, fps, stall_at
        self.start_t = clock()
        self.name = "scripted"

    def latest(self) -> FrameInfo | None:
        now = min(self.clock(), self.stall_at)
        index = int((now - self.start_t) * self.fps + 1e-9) + 1
        t = self.start_t + (index - 1) / self.fps
        return FrameInfo(self.picture(t), index, t)

    def last_frame_time(self) -> float:
        return self.latest().t

    def start(self):
        return self

    def stop(self):
        pass


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.005) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
