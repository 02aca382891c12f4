"""Camera frame -> the model's input: resize, colour, frame stack.

Cameras (OpenCV) deliver BGR uint8 frames of any size; the model wants
uint8 [1, H, W, channels * frame_stack] with RGB order (or one gray channel)
and the stacked frames oldest first along the last axis, exactly as the
simulator's env yields observations. A camera with its own calibration (mount
error, gain: hardware/camera_calibration.py) has each converted frame corrected
before it joins the stack, at the model's resolution where that is cheap.
"""
from __future__ import annotations

import cv2
import numpy as np

from racekit.hardware.camera_calibration import FrameCorrection
from racekit.hardware.model import CameraSpec


def convert_frame(frame: np.ndarray, spec: CameraSpec) -> np.ndarray:
    """One BGR (or gray) frame -> uint8 [H, W, channels] of the model's camera spec."""
    if frame.dtype != np.uint8:
        raise ValueError(f"camera frame must be uint8, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 4:  # some V4L2 drivers give BGRA
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.shape[0] != spec.height or frame.shape[1] != spec.width:
        # INTER_AREA averages the pixels it shrinks, like a camera rendering at
        # the small size would; INTER_LINEAR would alias fine track edges.
        frame = cv2.resize(frame, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
    if spec.channels == 1:
        if frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)  # ITU-R BT.601 weights
        return frame.reshape(spec.height, spec.width, 1)
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class FrameStacker:
    """Keeps the last `frame_stack` converted frames as one model input.

    The first frame fills the whole stack (as the env does at reset), so the
    model gets a valid input from the very first tick.
    """

    def __init__(self, spec: CameraSpec, correction: FrameCorrection | None = None):
        self.spec = spec
        self.correction = correction  # the camera's calibration (camera_calibration.frame_corrections); None: none
        self._stack = np.zeros((1, spec.height, spec.width, spec.depth), dtype=np.uint8)
        self._empty = True

    def push(self, frame: np.ndarray) -> np.ndarray:
        """Add a camera frame (BGR) and return the model input [1, H, W, C] (a view: copy to keep)."""
        new = convert_frame(frame, self.spec)
        if self.correction is not None:
            new = self.correction(new)
        c = self.spec.channels
        if self._empty:
            self._stack[0] = np.tile(new, (1, 1, self.spec.frame_stack))
            self._empty = False
        else:
            # Shift the older frames toward the front, newest goes last (oldest first).
            self._stack[0, :, :, :-c] = self._stack[0, :, :, c:]
            self._stack[0, :, :, -c:] = new
        return self._stack

    def reset(self) -> None:
        """Forget the history (after a long camera stall the old frames are stale)."""
        self._empty = True
