"""Exception types of the car runtime.

Each names the file, port or source it is about, so the command line can print
it as a single line (racekit/cli/car.py turns them into `UserError`).
"""
from __future__ import annotations


class HardwareError(Exception):
    """Base class of every error the car runtime raises on purpose."""


class ModelError(HardwareError):
    """The model file cannot be used: not ONNX, bad metadata, shape mismatch, or inference failed."""


class CalibrationError(HardwareError):
    """The calibration file is unreadable or a field is missing or out of range."""


class ControllerError(HardwareError):
    """The motor controller cannot be opened or written to, or stopped acknowledging."""


class CameraError(HardwareError):
    """The camera source cannot be opened or is unknown."""


class LidarError(HardwareError):
    """The LIDAR cannot be opened, reports a fault, or sends bytes that are not its protocol."""
