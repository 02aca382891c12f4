"""The car loop: small parts with one `run(tick)` each, run in order at a fixed rate.

    CameraPart -> [LidarPart] -> PilotPart -> SafetyPart -> ActuatorPart -> LogPart

(a stereo car has hardware/stereo.py's StereoCameraPart in CameraPart's place;
a car with a LIDAR has LidarPart, which turns the newest scan into the
model's LIDAR observation and makes a silent LIDAR the fault "lidar-stall").

A `Tick` carries what one pass learned (frame, action, fault, command,
pulses). A part that finds a fault sets `tick.fault`; SafetyPart then turns
the command into neutral, so every fault takes the same path to the motors.
When the loop ends for any reason (stop, signal, e-stop, duration, an
exception) it runs a last "stop" tick through the parts marked
`runs_on_stop`, which sends neutral within the same call, before anything
else is cleaned up. Parts are plain objects: bench/car_loop.py and tests build
their own lists.
"""
from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from racekit.hardware.calibration import Calibration
from racekit.hardware.camera import Camera, FrameInfo
from racekit.hardware.camera_calibration import CameraCalibration
from racekit.hardware.errors import ModelError
from racekit.hardware.lidar import LIDAR_STALL_S, Lidar
from racekit.hardware.lidar_observation import EVO_MOUNT_YAW_DEG, LidarConfig, lidar_observation, scan_to_ranges
from racekit.hardware.link import ControllerLink
from racekit.hardware.model import Policy
from racekit.hardware.profiler import Profiler, timed
from racekit.hardware.safety import CAMERA_STALL_S, Command, EStop, Governor, StopRequest
from racekit.hardware.stereo import make_stacker

log = logging.getLogger("racekit.hardware.drive")
WAKE_SLICE_S = 0.05  # between ticks, check stop/e-stop at least this often
CAPTURE_TO_COMMAND = "capture to command"  # the profile's row: a frame's capture to its command's send
PAIR_SKEW = "stereo pair skew"  # the profile's row: |t_left - t_right| of each new stereo pair
LIDAR_AGE = "lidar scan age"  # the profile's row: how old the scan was that a new frame's command used


def _ms_line(name: str, s: dict, what: str) -> str:
    return f"{name}: p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms over {s['n']} {what}"


def latency_report(stats: dict, extra: dict, control_hz: float) -> list[str]:
    """Lines on the measured capture-to-command delay beside the latency the model was trained for
    (its metadata's `trained_latency`, written by the exporter from the run's randomisation), with a
    warning when the typical (p50) delay is beyond the trained range."""
    sensors = [_ms_line(PAIR_SKEW, stats[PAIR_SKEW], "pairs")] if stats.get(PAIR_SKEW) else []
    if stats.get(LIDAR_AGE):
        sensors.append(_ms_line(LIDAR_AGE + " at the command", stats[LIDAR_AGE], "frames"))
    s = stats.get(CAPTURE_TO_COMMAND)
    if not s:
        return ["capture to command: no frame's command was sent"] + sensors
    return _capture_lines(s, extra, control_hz) + sensors


def _capture_lines(s: dict, extra: dict, control_hz: float) -> list[str]:
    line = f"capture to command: p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms over {s['n']} frames"
    trained = extra.get("trained_latency")
    ms = trained.get("ms") if isinstance(trained, dict) else None
    if not (isinstance(ms, list) and len(ms) == 2 and all(isinstance(v, (int, float)) for v in ms)):
        return [line, "  the model's metadata does not say which latency it was trained for"]
    steps = trained.get("steps") or ["?", "?"]
    lines = [line + f"; trained for {ms[0]:.0f}-{ms[1]:.0f} ms ({steps[0]}-{steps[1]} steps at {control_hz:g} Hz)"]
    if s["p50_ms"] > ms[1]:
        lines.append(f"warning: capture to command (p50 {s['p50_ms']:.1f} ms) is more than the {ms[1]:.0f} ms of "
                     "latency the model was trained for: train with a wider randomised latency (--randomize with "
                     "latency up to more steps) or make the loop faster")
    return lines


@dataclass
class Tick:
    index: int
    t: float  # loop clock at the start of the tick
    frame: FrameInfo | None = None  # a *new* camera frame, or None
    frame_age: float = math.inf
    steering_deg: float | None = None
    speed_mps: float | None = None
    fault: str | None = None  # set -> neutral this tick
    command: Command | None = None
    pulses: tuple[float, float] | None = None  # what was written to the controller (None: nothing)
    sends: int = 0  # commands written this tick (the stop tick writes neutral twice)
    captured: float | None = None  # perf_counter() time the new frame was captured (from its age)
    sent: float | None = None  # perf_counter() time the first command of this tick was written
    pair_skew: float | None = None  # a new stereo pair: seconds between its two frames' capture
    lidar: np.ndarray | None = None  # the model's LIDAR observation from the newest scan
    lidar_age: float = math.inf  # seconds since that scan was complete


class CameraPart:
    name = "camera"
    runs_on_stop = False

    def __init__(self, camera: Camera, stall_s: float = CAMERA_STALL_S):
        self.camera = camera
        self.stall_s = stall_s
        self._last_index = 0
        self._stalled = False

    def run(self, tick: Tick) -> None:
        latest = self.camera.latest()
        if latest is None:
            tick.fault = "waiting-for-camera"
            return
        tick.frame_age = self.camera.clock() - latest.t
        if tick.frame_age >= self.stall_s:
            if not self._stalled:
                log.error("camera %s stalled: no new frame for %.0f ms; neutral", self.camera.name,
                          tick.frame_age * 1000)
            self._stalled = True
            tick.fault = "camera-stall"
            return
        if self._stalled:
            log.warning("camera %s delivering frames again", self.camera.name)
            self._stalled = False
        if latest.index != self._last_index:
            self._last_index = latest.index
            tick.frame = latest
            tick.captured = time.perf_counter() - tick.frame_age


class LidarPart:
    """The newest complete scan -> the model's LIDAR observation (tick.lidar), converted once per new scan.

    No complete scan for `stall_s` (LIDAR_STALL_S: the LIDAR stopped sending, or sends only what is not
    its protocol) is the fault "lidar-stall": neutral through SafetyPart, as a stalled camera; before the
    first scan the fault is "waiting-for-lidar". A fault found earlier in the tick is kept.
    """

    name = "lidar"
    runs_on_stop = False

    def __init__(self, lidar: Lidar, sensor: str, config: LidarConfig | None = None, *,
                 mount_yaw_deg: float = EVO_MOUNT_YAW_DEG, stall_s: float = LIDAR_STALL_S):
        lidar_observation(np.full(64, np.inf), sensor, config)  # ValueError now for an unknown sensor or config
        self.lidar, self.sensor, self.config = lidar, sensor, config
        self.mount_yaw_deg = mount_yaw_deg
        self.stall_s = stall_s
        self._index = 0
        self._observation: np.ndarray | None = None
        self._stalled = False

    def run(self, tick: Tick) -> None:
        scan = self.lidar.latest()
        tick.lidar_age = age = math.inf if scan is None else self.lidar.clock() - scan.t
        if age >= self.stall_s:
            if scan is not None and not self._stalled:
                error = getattr(self.lidar, "error", None)
                log.error("LIDAR %s stalled: no complete scan for %.0f ms%s; neutral", self.lidar.name, age * 1000,
                          f" ({error})" if error else "")
                self._stalled = True
            tick.fault = tick.fault or ("waiting-for-lidar" if scan is None else "lidar-stall")
            return
        if self._stalled:
            log.warning("LIDAR %s delivering scans again", self.lidar.name)
            self._stalled = False
        if scan.index != self._index:
            self._index = scan.index
            ranges = scan_to_ranges(scan.angles_deg, scan.distances_m, self.mount_yaw_deg)
            self._observation = lidar_observation(ranges, self.sensor, self.config)
        tick.lidar = self._observation


class PilotPart:
    """Stacks new frames (each camera's corrected by its calibration in `cameras`, by role) and runs the model
    (with the LIDAR's observation, if it has one); repeats the last action between camera frames."""

    name = "model"
    runs_on_stop = False

    def __init__(self, policy: Policy, cameras: dict[str, CameraCalibration] | None = None):
        self.policy = policy
        self.stacker = make_stacker(policy.spec.camera, cameras)  # each camera's frames corrected by its calibration
        self._action: tuple[float, float] | None = None
        self._fault: str | None = None
        self.errors = 0

    def run(self, tick: Tick) -> None:
        if tick.fault:  # camera trouble: the old frames in the stack are stale now
            self.stacker.reset()
            self._action, self._fault = None, None
            return
        if tick.frame is not None:
            try:
                self._action = self.policy.act(self.stacker.push(tick.frame.frame), tick.lidar)
                self._fault = None
            except ModelError as exc:
                self.errors += 1
                if self._fault is None:
                    log.error("%s; neutral", exc)
                self._action, self._fault = None, "model-error"
        if self._fault or self._action is None:
            tick.fault = self._fault or "waiting-for-camera"
            return
        tick.steering_deg, tick.speed_mps = self._action


class SafetyPart:
    name = "safety"
    runs_on_stop = True

    def __init__(self, governor: Governor):
        self.governor = governor

    def run(self, tick: Tick) -> None:
        if tick.fault or tick.steering_deg is None or tick.speed_mps is None:
            tick.command = self.governor.neutral(tick.fault or "no-action")
        else:
            tick.command = self.governor.command(tick.steering_deg, tick.speed_mps)


class ActuatorPart:
    """Calibration (fractions -> clamped pulses) and the serial link."""

    name = "serial"
    runs_on_stop = True

    def __init__(self, link: ControllerLink, calibration: Calibration, stop_repeats: int = 2):
        self.link = link
        self.calibration = calibration
        self.stop_repeats = stop_repeats  # neutral twice at the end: one lost frame must not leave the car moving

    def run(self, tick: Tick) -> None:
        command = tick.command or Governor.neutral("no-command")
        pulses = self.calibration.pulses(command.steering, command.throttle)
        repeats = self.stop_repeats if tick.fault and tick.fault.startswith("stop") else 1
        for _ in range(repeats):
            sent = self.link.send(*pulses)  # None while the link is down
            if sent is not None:
                if tick.sent is None:
                    tick.sent = time.perf_counter()
                tick.pulses = sent
                tick.sends += 1


class LogPart:
    """Every tick to CSV (line-buffered: the log survives a crash up to the last command).

    `sent` is the number of commands written to the controller that tick (0
    while the serial link is down), `steering_us`/`throttle_us` what they carried.
    """

    name = "log"
    runs_on_stop = True
    COLUMNS = ["time_unix", "t_s", "tick", "steering_deg", "speed_mps", "steering", "throttle",
               "steering_us", "throttle_us", "sent", "reason"]

    def __init__(self, path: str, t0: float):
        self.path = path
        self.t0 = t0
        self._fh = open(path, "w", newline="", encoding="utf-8", buffering=1)
        self._csv = csv.writer(self._fh)
        self._csv.writerow(self.COLUMNS)
        self.rows = 0

    def run(self, tick: Tick) -> None:
        cmd = tick.command
        def num(v, fmt="{:.4f}"):
            return "" if v is None else fmt.format(v)
        self._csv.writerow([
            f"{time.time():.4f}", f"{tick.t - self.t0:.4f}", tick.index, num(tick.steering_deg), num(tick.speed_mps),
            num(cmd and cmd.steering), num(cmd and cmd.throttle),
            num(tick.pulses and tick.pulses[0], "{:g}"), num(tick.pulses and tick.pulses[1], "{:g}"),
            tick.sends, cmd.reason if cmd else "",
        ])
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class DriveLoop:
    """Runs `parts` at `hz` until a stop, an e-stop, `duration_s`, or an exception."""

    def __init__(self, parts: list, hz: float, *, stop: StopRequest | None = None, estop: EStop | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] | None = None,
                 emergency_neutral: Callable[[], object] | None = None):
        self.parts = parts
        self.period = 1.0 / hz
        self.stop = stop or StopRequest()
        self.estop = estop or EStop(None)
        self.clock = clock
        self.sleep = sleep or self.stop.wait  # a stop request ends the wait at once
        self.emergency_neutral = emergency_neutral  # used if the stop tick itself fails
        self.profiler = Profiler(self.period)
        self.ticks = 0
        self.reason: str | None = None

    def _stop_reason(self) -> str | None:
        return self.stop.reason or self.estop.check()

    def _wait_until(self, t: float) -> None:
        while (left := t - self.clock()) > 0 and self._stop_reason() is None:
            self.sleep(min(left, WAKE_SLICE_S))

    def run_tick(self) -> Tick:
        tick = Tick(self.ticks, self.clock())
        self.ticks += 1
        for part in self.parts:
            with timed(self.profiler, part.name):
                part.run(tick)
        if tick.frame is not None and tick.fault is None and tick.captured is not None and tick.sent is not None:
            # a new frame's own command reached the controller: the delay the model drives with
            self.profiler.add(CAPTURE_TO_COMMAND, max(0.0, tick.sent - tick.captured))
            if math.isfinite(tick.lidar_age):
                self.profiler.add(LIDAR_AGE, tick.lidar_age)
        if tick.pair_skew is not None:
            self.profiler.add(PAIR_SKEW, tick.pair_skew)
        return tick

    def run(self, duration_s: float | None = None) -> str:
        """Drive; returns why it stopped. Exceptions propagate after the neutral stop tick."""
        start = anchor = self.clock()
        k = 0  # ticks since `anchor`: multiplying, not adding, keeps the rate free of drift
        reason = "exception"
        try:
            while (reason := self._stop_reason()) is None:
                if duration_s is not None and self.clock() - start >= duration_s - 1e-9:
                    reason = "duration"
                    break
                t0 = time.perf_counter()
                self.run_tick()
                k += 1
                next_t = anchor + k * self.period
                now = self.clock()
                missed = now > next_t
                self.profiler.tick(time.perf_counter() - t0, missed)
                if missed:  # run the next tick at once, but never in a catch-up burst
                    anchor, k = now, 0
                    continue
                self._wait_until(next_t)
        except BaseException as exc:
            reason = f"exception: {exc!r}"
            raise
        finally:
            self.reason = reason
            self._stop_tick(reason)
        return reason

    def _stop_tick(self, reason: str) -> None:
        tick = Tick(self.ticks, self.clock(), fault=f"stop: {reason}")
        try:
            for part in self.parts:
                if part.runs_on_stop:
                    part.run(tick)
        except Exception as exc:  # the normal path failed: fall back to the bare link
            log.error("stop tick failed (%s); sending neutral directly", exc)
            if self.emergency_neutral is not None:
                self.emergency_neutral()
