"""Safety rules of autonomous driving, kept apart from the loop so each is testable.

- Governor: the model's (steering_deg, speed_mps) -> fractions for the
  calibration, with the user's speed cap and no reverse, or neutral on a fault.
- StopRequest: Ctrl-C, SIGTERM and the e-stop signal end the loop promptly
  (the handler only sets an event; the loop, woken by it, sends neutral).
- EStop: a second process stops the car with a signal (SIGUSR1) or by
  creating a file.
- sensor_mismatch: a model whose sensors the car lacks (or does not use) is
  refused before the motor controller is opened.
Every fault of the loop takes the same path to neutral (hardware/drive.py's
SafetyPart): "camera-stall" (no new frame for CAMERA_STALL_S), "lidar-stall"
(no complete LIDAR scan for LIDAR_STALL_S, hardware/lidar.py), "model-error",
a serial link down, and the stop tick.
Pulses are clamped to the calibrated range by hardware/calibration.py.
"""
from __future__ import annotations

import math
import os
import signal
import threading
from dataclasses import dataclass

from racekit.hardware.model import ActionSpace, ModelSpec

CAMERA_STALL_S = 0.2  # no new frame for this long -> neutral
ESTOP_SIGNAL = signal.SIGUSR1


def check_speed_cap(cap: float) -> float:
    """The user's speed cap as a fraction of the calibrated forward range, in [0, 1]."""
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not math.isfinite(cap) or not 0 <= cap <= 1:
        raise ValueError(f"speed cap must be a number in [0, 1] (fraction of full throttle), got {cap!r}")
    return float(cap)


def sensor_mismatch(spec: ModelSpec, cameras: int, side_by_side: bool, lidar: bool) -> str | None:
    """Why the car's sensors (`cameras` camera sources, one of them a side-by-side stereo device, a LIDAR
    or not) cannot feed this model; None when they can."""
    sensors = ", ".join(spec.sensors)
    if cameras > 2:
        return f"at most two cameras (a stereo pair), got {cameras}"
    if side_by_side and cameras != 1:
        return f"a side-by-side stereo device is one camera, got {cameras}"
    if spec.stereo and cameras == 1 and not side_by_side:
        return (f"the model sees through stereo-cameras (sensors: {sensors}) but the car has one camera: give two "
                "--camera sources (left, then right), or one side-by-side stereo device with --stereo-side-by-side")
    if not spec.stereo and (cameras == 2 or side_by_side):
        return (f"the model sees through one front-camera (sensors: {sensors}) but the car was given a stereo pair: "
                "give one --camera")
    if spec.lidar is not None and not lidar:
        return f"the model drives with a LIDAR ({spec.lidar}; sensors: {sensors}) but the car has none: give --lidar PORT"
    if spec.lidar is None and lidar:
        return f"--lidar is given but the model has no LIDAR input (sensors: {sensors}): drop --lidar or use a LIDAR model"
    return None


@dataclass(frozen=True)
class Command:
    """What the car is told to do: fractions (+1 = full left / full forward) and why."""
    steering: float
    throttle: float
    reason: str  # "drive" or the fault that forced neutral

    @property
    def is_neutral(self) -> bool:
        return self.steering == 0.0 and self.throttle == 0.0


class Governor:
    """Maps the policy's physical action to safe fractions.

    steering = steering_deg / max |steering| of the action space, in [-1, 1];
    throttle = speed_mps / max speed of the action space * speed cap, in
    [0, cap]: autonomous mode never reverses, whatever the model says.
    """

    def __init__(self, action_space: ActionSpace, speed_cap: float):
        self.action_space = action_space
        self.speed_cap = check_speed_cap(speed_cap)

    def command(self, steering_deg: float, speed_mps: float) -> Command:
        if not (math.isfinite(steering_deg) and math.isfinite(speed_mps)):
            return self.neutral("model-error")
        max_steer = self.action_space.max_steering_deg
        steering = 0.0 if max_steer <= 0 else min(max(steering_deg / max_steer, -1.0), 1.0)
        forward = min(max(speed_mps / self.action_space.max_speed_mps, 0.0), 1.0)
        return Command(steering, forward * self.speed_cap, "drive")

    @staticmethod
    def neutral(reason: str) -> Command:
        return Command(0.0, 0.0, reason)


class StopRequest:
    """Set by signal handlers (or any thread); the loop checks and waits on it.

    `wait(timeout)` returns as soon as a stop is requested, so a signal
    arriving while the loop sleeps between ticks is acted on at once.
    """

    def __init__(self):
        self._event = threading.Event()
        self.reason: str | None = None
        self._previous: dict[int, object] = {}

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def install(self, estop_signal: int | None = ESTOP_SIGNAL) -> "StopRequest":
        """Handle SIGINT, SIGTERM (stop) and the e-stop signal; main thread only."""
        names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
        if estop_signal is not None:
            names[estop_signal] = f"e-stop ({signal.Signals(estop_signal).name})"
        for signum, name in names.items():
            self._previous[signum] = signal.signal(signum, lambda _s, _f, name=name: self.request(name))
        return self

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


class EStop:
    """An e-stop file: while it exists the car must not move.

    Checked every tick (a stat call); another process stops the car with
    `touch FILE` (or with `kill -USR1 PID`, handled by StopRequest). A file
    left over from an earlier stop keeps the car from starting until removed.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = os.fspath(path) if path is not None else None

    def check(self) -> str | None:
        if self.path is not None and os.path.exists(self.path):
            return f"e-stop file {self.path}"
        return None
