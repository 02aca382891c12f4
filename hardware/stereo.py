"""DeepRacer Evo's stereo pair on the car: two cameras (or one side-by-side device) -> one model input.

A stereo model ("stereo-cameras": camera.cameras 2, channels 1) reads each
frame as two grey pictures, left then right, stacked oldest first, exactly as
the simulator's env gives them. On the car the pair comes from
- two camera devices, each grabbing in its own thread (hardware/camera.py):
  their frames arrive at their own times, so `StereoCameraPart` pairs them by
  capture time: the older of the two newest frames, with the other camera's
  frame nearest to it in time (each camera's last few frames are kept), and
  puts the pair's skew (|t_left - t_right|) on the tick for the loop's
  profile and latency report;
- or one side-by-side stereo device whose every frame holds the left picture
  in its left half and the right one in its right half (`split=True`): the
  halves were captured together, skew 0.
A pair whose camera stops delivering is a "camera-stall" (neutral), as with
one camera. Each camera of the pair (device, or half of a side-by-side frame)
may have its own calibration in the car's calibration file (`[camera.left]`,
`[camera.right]`: hardware/camera_calibration.py): its mount error is undone
and its gain applied to its picture at the model's resolution, before the pair
joins the stack.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import time
from typing import NamedTuple

import numpy as np

from racekit.hardware.camera import Camera, FrameInfo
from racekit.hardware.camera_calibration import CameraCalibration, FrameCorrection, frame_corrections
from racekit.hardware.model import CameraSpec
from racekit.hardware.preprocess import FrameStacker, convert_frame
from racekit.hardware.safety import CAMERA_STALL_S

log = logging.getLogger("racekit.hardware.stereo")
HISTORY = 4  # frames kept per camera for pairing: a pair is never more than this many frames apart


class StereoFrame(NamedTuple):
    """One stereo frame: the two pictures as their cameras gave them (BGR, or grey [H, W(, 1)])."""
    left: np.ndarray
    right: np.ndarray


def split_side_by_side(frame: np.ndarray) -> StereoFrame:
    """A side-by-side stereo device's frame -> its left and right halves (views, no copy)."""
    half = frame.shape[1] // 2
    return StereoFrame(frame[:, :half], frame[:, half:2 * half])


def _plain(frame: np.ndarray) -> np.ndarray:
    return frame[:, :, 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame  # a 1-channel grey picture


class StereoStacker:
    """FrameStacker for a stereo model: each push takes a StereoFrame; the input's channels are
    (left, right) per frame, frames oldest first; the first pair fills the stack."""

    def __init__(self, spec: CameraSpec, corrections: tuple[FrameCorrection | None, ...] = (None, None)):
        if spec.cameras != 2 or spec.channels != 1:
            raise ValueError(f"a stereo input needs 2 grey cameras, got cameras {spec.cameras}, channels {spec.channels}")
        self.spec = spec
        self.corrections = corrections  # left's, right's (camera_calibration.frame_corrections); None: none
        self._mono = dataclasses.replace(spec, cameras=1)
        self._stack = np.zeros((1, spec.height, spec.width, spec.depth), dtype=np.uint8)
        self._empty = True

    def push(self, pair: StereoFrame) -> np.ndarray:
        """Add a pair and return the model input [1, H, W, 2 * frame_stack] (a view: copy to keep)."""
        new = np.concatenate([self._convert(pair[0], self.corrections[0]), self._convert(pair[1], self.corrections[1])],
                             axis=2)
        if self._empty:
            self._stack[0] = np.tile(new, (1, 1, self.spec.frame_stack))
            self._empty = False
        else:
            self._stack[0, :, :, :-2] = self._stack[0, :, :, 2:]
            self._stack[0, :, :, -2:] = new
        return self._stack

    def _convert(self, picture: np.ndarray, correction: FrameCorrection | None) -> np.ndarray:
        grey = convert_frame(_plain(picture), self._mono)
        return grey if correction is None else correction(grey)

    def reset(self) -> None:
        self._empty = True


def make_stacker(spec: CameraSpec, cameras: dict[str, CameraCalibration] | None = None):
    """The stacker a model's camera needs: one camera or a stereo pair, each camera corrected by its
    calibration in `cameras` (by role: "front"; "left", "right"; from calibration.load_camera_calibration)."""
    fixes = frame_corrections(cameras, spec)
    return StereoStacker(spec, tuple(fixes)) if spec.cameras == 2 else FrameStacker(spec, fixes[0])


class StereoCameraPart:
    """The camera part of a stereo car: sets tick.frame to a new FrameInfo(StereoFrame, index, t) when a new
    pair is ready (t: the older frame's capture time), tick.pair_skew to its skew, and "camera-stall"
    when either camera has sent nothing new for `stall_s`."""

    name = "camera"
    runs_on_stop = False

    def __init__(self, left: Camera, right: Camera | None = None, *, split: bool = False,
                 stall_s: float = CAMERA_STALL_S):
        if (right is None) != split:
            raise ValueError("a stereo pair is two cameras, or one side-by-side camera with split=True")
        self.cameras = [left] if split else [left, right]
        self.split = split
        self.stall_s = stall_s
        self.clock = left.clock
        self._seen = [collections.deque(maxlen=HISTORY) for _ in self.cameras]
        self._last: tuple[int, ...] = ()
        self._pairs = 0
        self._stalled: str | None = None

    def _latest(self) -> list[FrameInfo] | None:
        latest = [camera.latest() for camera in self.cameras]
        if any(info is None for info in latest):
            return None
        for seen, info in zip(self._seen, latest):
            if not seen or seen[-1].index != info.index:
                seen.append(info)
        return latest

    def _stall(self, tick, latest: list[FrameInfo]) -> bool:
        now = self.clock()
        ages = [now - info.t for info in latest]
        tick.frame_age = max(ages)
        stalled = next((c.name for c, age in zip(self.cameras, ages) if age >= self.stall_s), None)
        if stalled is not None:
            if self._stalled is None:
                log.error("camera %s stalled: no new frame for %.0f ms; neutral", stalled, max(ages) * 1000)
            self._stalled = stalled
            tick.fault = "camera-stall"
            return True
        if self._stalled is not None:
            log.warning("camera %s delivering frames again", self._stalled)
            self._stalled = None
        return False

    def run(self, tick) -> None:
        latest = self._latest()
        if latest is None:
            tick.fault = "waiting-for-camera"
            return
        if self._stall(tick, latest):
            return
        if self.split:
            info = latest[0]
            key, frames, times = (info.index,), split_side_by_side(info.frame), (info.t, info.t)
        else:
            # the older of the two newest frames sets the pair's time; the other camera gives its nearest frame
            old = 0 if latest[0].t <= latest[1].t else 1
            other = min(self._seen[1 - old], key=lambda f: abs(f.t - latest[old].t))
            pair = (latest[0], other) if old == 0 else (other, latest[1])
            key, frames, times = (pair[0].index, pair[1].index), StereoFrame(pair[0].frame, pair[1].frame), \
                (pair[0].t, pair[1].t)
        if key == self._last:
            return
        self._last = key
        self._pairs += 1
        t = min(times)
        tick.frame = FrameInfo(frames, self._pairs, t)
        tick.pair_skew = abs(times[0] - times[1])
        tick.captured = time.perf_counter() - (self.clock() - t)
