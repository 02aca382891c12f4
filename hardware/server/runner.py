"""The drive loop under the car service: hardware/service.py's drive() in a thread.

A thread, not a process, because the service needs what the loop knows
(every command, the loop rate) and the camera it shares with the live view;
onnxruntime, OpenCV and the serial writes release the GIL, so the web
server stays responsive on a Pi's four cores.

Stopping sets the loop's StopRequest: the loop wakes from its wait at once,
runs its stop tick (neutral, twice) and ends; stop() returns when it has.
The e-stop also creates the e-stop file first, which the loop checks every
tick and drive() refuses to start with: it holds across restarts of the
service until someone clears it.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import asdict

from racekit.hardware.errors import HardwareError
from racekit.hardware.safety import StopRequest
from racekit.hardware.server.camera_view import SharedCamera
from racekit.hardware.server.sensors import CarSensors
from racekit.hardware.service import DriveConfig, drive

log = logging.getLogger("hardware.server.runner")
START_WAIT_S = 10.0  # how long start() waits for the first tick (model load, port open, first frame)
STOP_WAIT_S = 3.0  # the stop tick is one serial write; this only bounds a wedged loop
QUIET_FAULTS = ("waiting-for-camera", "no-action", "stop")  # normal states, not errors


class StatusPart:
    """The last loop part: keeps what the status page shows (thread-safe snapshots)."""

    name = "status"
    runs_on_stop = True

    def __init__(self):
        self._lock = threading.Lock()
        self._times: collections.deque[float] = collections.deque(maxlen=30)
        self.first_tick = threading.Event()
        self.ticks = 0
        self.last_command: dict | None = None
        self.last_fault: dict | None = None

    def run(self, tick) -> None:
        now = time.monotonic()
        cmd = tick.command
        command = None if cmd is None else {
            "steering": round(cmd.steering, 4), "throttle": round(cmd.throttle, 4), "reason": cmd.reason,
            "steering_us": tick.pulses[0] if tick.pulses else None,
            "throttle_us": tick.pulses[1] if tick.pulses else None, "time": time.time()}
        with self._lock:
            self.ticks += 1
            self._times.append(now)
            self.last_command = command
            if tick.fault and not tick.fault.startswith(QUIET_FAULTS):
                self.last_fault = {"fault": tick.fault, "time": time.time()}
        self.first_tick.set()

    def rate_hz(self) -> float | None:
        """Ticks per second over the last 30 ticks (None before two ticks or when stale)."""
        with self._lock:
            times = list(self._times)
        if len(times) < 2 or time.monotonic() - times[-1] > 1.0:
            return None
        return (len(times) - 1) / (times[-1] - times[0])


class _LogLines:
    """drive() prints progress lines; in the service they go to the log."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                log.info("%s", line)
        return len(text)

    def flush(self) -> None:
        pass  # the logging handlers flush themselves


class CarRunner:
    def __init__(self, camera: SharedCamera, config: DriveConfig, *, estop_file: str, log_dir: str,
                 calibration_file: str, sensors: CarSensors = CarSensors()):
        self.camera = camera  # the car's camera (the left one of a stereo pair), shared with the live view
        self.base = config  # serial port, controller, channels: the same for every run
        self.sensors = sensors  # the car's; each run opens those its model reads
        self.estop_file = estop_file
        self.log_dir = log_dir
        self.calibration_file = calibration_file  # read at each start: DeepRacer's values until one is saved
        self._lock = threading.Lock()  # start() against start(): one loop at a time
        self._thread: threading.Thread | None = None
        self._stop: StopRequest | None = None
        self._monitor: StatusPart | None = None
        self.model: dict | None = None  # the record of the model the loop runs
        self.max_speed: float | None = None
        self.last_error: str | None = None
        self.stop_reason: str | None = None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def estopped(self) -> bool:
        return os.path.exists(self.estop_file)

    def start(self, model: dict, max_speed: float, wait_s: float = START_WAIT_S) -> None:
        """Start the loop with `model` (a store record with "path"); HardwareError if it cannot drive."""
        with self._lock:
            if self.running:
                raise HardwareError("the car is already driving: stop it first")
            if self.estopped:
                raise HardwareError("the e-stop is set: clear it first")
            os.makedirs(self.log_dir, exist_ok=True)
            log_file = os.path.join(self.log_dir, f"drive-{time.strftime('%Y%m%d-%H%M%S')}.csv")
            calibration = self.calibration_file if os.path.exists(self.calibration_file) else None
            config = DriveConfig(**dict(asdict(self.base), model=model["path"], max_speed=max_speed,
                                        estop_file=self.estop_file, log=log_file, calibration=calibration,
                                        **self.sensors.drive_options(model.get("sensors") or ["front-camera"])))
            stop, monitor = StopRequest(), StatusPart()
            self._stop, self._monitor = stop, monitor
            self.model, self.max_speed, self.last_error, self.stop_reason = model, max_speed, None, None
            thread = threading.Thread(target=self._run, args=(config, stop, monitor), name="drive", daemon=True)
            self._thread = thread
            thread.start()
        # Wait outside the lock, so stop and e-stop are never held up by a slow start.
        deadline = time.monotonic() + wait_s
        while thread.is_alive() and not monitor.first_tick.wait(0.05) and time.monotonic() < deadline:
            pass
        if not thread.is_alive() and self.last_error:
            raise HardwareError(self.last_error)
        if not monitor.first_tick.is_set():
            self.stop("start timed out")
            raise HardwareError(f"the drive loop did not start within {wait_s:g} s")

    def _run(self, config: DriveConfig, stop: StopRequest, monitor: StatusPart) -> None:
        try:
            camera = self.camera.acquire()
        except HardwareError as exc:
            self.last_error = str(exc)
            return
        try:
            self.stop_reason = drive(config, out=_LogLines(), stop=stop, camera=camera, monitor=monitor)
        except HardwareError as exc:  # the user's mistake (port, calibration): no traceback
            self.last_error = str(exc)
        except Exception as exc:  # a bug: the loop has sent neutral already; keep the service up
            log.exception("the drive loop failed")
            self.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.camera.release()

    def stop(self, reason: str = "stop", wait_s: float = STOP_WAIT_S) -> bool:
        """Ask the loop to stop (neutral at once) and wait until it has; True if it is stopped."""
        stop, thread = self._stop, self._thread
        if stop is not None:
            stop.request(reason)
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait_s)
        return not self.running

    def estop(self, wait_s: float = STOP_WAIT_S) -> bool:
        """Set the e-stop (file first: a start racing with this one is refused) and stop."""
        with open(self.estop_file, "a", encoding="utf-8"):
            pass
        return self.stop("e-stop", wait_s)

    def clear_estop(self) -> None:
        try:
            os.unlink(self.estop_file)
        except FileNotFoundError:
            pass  # not set: nothing to clear

    def status(self) -> dict:
        monitor = self._monitor
        running = self.running
        fault = monitor.last_fault if monitor else None
        return {
            "state": "running" if running else ("e-stop" if self.estopped else "stopped"),
            "running": running,
            "estop": self.estopped,
            "model": self.model,
            "max_speed": self.max_speed,
            "loop_hz": (monitor.rate_hz() if running and monitor else None),
            "ticks": monitor.ticks if monitor else 0,
            "last_command": monitor.last_command if monitor else None,
            "last_error": self.last_error or (fault and f"{fault['fault']}"),
            "stop_reason": None if running else self.stop_reason,
        }
