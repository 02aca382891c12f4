"""Camera sources: an OpenCV device (index or path), a video file, and a scheme registry.

Every source is a `Camera` that grabs in its own thread and keeps only the
newest frame with the monotonic time it arrived, so the car loop never blocks
on the camera and can tell a stalled camera (no new frame for 200 ms) from a
slow one. Frames are BGR uint8, as OpenCV delivers them.

Other sources plug in by URL scheme, e.g. the simulator stand-in:
    register_camera_scheme("sim", lambda source, clock: Camera(grab, source, clock=clock))
after which `open_camera("sim://127.0.0.1:5555")` builds it (see LAZY_SCHEMES
for how that module gets imported without the caller knowing about it).
"""
from __future__ import annotations

import importlib
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from racekit.hardware.errors import CameraError

log = logging.getLogger("racekit.hardware.camera")
RETRY_S = 0.01  # how long to wait after a grab that gave no frame


@dataclass(frozen=True)
class FrameInfo:
    frame: np.ndarray  # BGR uint8 [H, W, 3]
    index: int  # 1, 2, 3, ... per new frame: tells the loop whether a frame is new
    t: float  # clock() when it arrived


class Camera:
    """Runs `grab()` in a thread; `latest()` returns the newest frame without blocking.

    grab() returns a frame, or None when there is none right now (it is
    retried). `interval_s` paces sources that would otherwise run flat out
    (video files play at their own frame rate).
    """

    def __init__(self, grab: Callable[[], np.ndarray | None], name: str, *, release: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, interval_s: float | None = None):
        self.name = name
        self.clock = clock
        self._grab = grab
        self._release = release
        self._interval = interval_s
        self._latest: FrameInfo | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self) -> "Camera":
        self._thread = threading.Thread(target=self._run, name=f"camera {self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # A device read can block for a frame time; a hung driver must not hang shutdown.
            self._thread.join(timeout=2.0)
        if self._release is not None and (self._thread is None or not self._thread.is_alive()):
            self._release()

    def latest(self) -> FrameInfo | None:
        with self._lock:
            return self._latest

    def age(self) -> float:
        """Seconds since the last new frame (infinite before the first)."""
        latest = self.latest()
        return float("inf") if latest is None else self.clock() - latest.t

    def _run(self) -> None:
        index = 0
        next_t = time.monotonic()
        while not self._stop.is_set():
            try:
                frame = self._grab()
            except Exception as exc:  # a driver error must stall the camera, not kill the thread silently
                self.errors += 1
                if self.errors == 1:
                    log.error("camera %s: grab failed: %s", self.name, exc)
                frame = None
            if frame is None:
                self._stop.wait(RETRY_S)
                continue
            index += 1
            with self._lock:
                self._latest = FrameInfo(frame, index, self.clock())
            if self._interval:
                next_t = max(next_t + self._interval, time.monotonic())  # fell behind: no burst
                self._stop.wait(max(0.0, next_t - time.monotonic()))


# -- sources -----------------------------------------------------------------

CameraFactory = Callable[[str, Callable[[], float]], Camera]
_SCHEMES: dict[str, CameraFactory] = {}
# Schemes whose module is imported on first use (and registers itself), so the
# car runtime does not load them unless asked: the simulator's camera stream
# client goes in hardware/sim_camera.py (standard library + numpy only).
LAZY_SCHEMES = {"sim": "racekit.hardware.sim_camera"}


def register_camera_scheme(scheme: str, factory: CameraFactory) -> None:
    """Make `open_camera("scheme://...")` call factory(source, clock) -> Camera (not started)."""
    _SCHEMES[scheme.lower()] = factory


def camera_schemes() -> list[str]:
    return sorted(_SCHEMES)


def _capture_grabber(cap) -> Callable[[], np.ndarray | None]:
    def grab():
        ok, frame = cap.read()
        return frame if ok else None
    return grab


def open_device(source: str | int, clock=time.monotonic, exposure: float | None = None) -> Camera:
    """A V4L2/USB/Pi camera by index (0) or device path (/dev/video0); `exposure`: a fixed exposure in the
    driver's units (V4L2: 100 us) instead of the driver's auto exposure (the calibration file's)."""
    cap = cv2.VideoCapture(int(source) if isinstance(source, int) or str(source).isdigit() else str(source))
    if not cap.isOpened():
        raise CameraError(f"camera {source}: cannot open the device")
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queued old one
    # OpenCV's V4L2 backend passes CAP_PROP_AUTO_EXPOSURE to V4L2's exposure_auto: 1 is its manual mode.
    if exposure is not None and not (cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)
                                     and cap.set(cv2.CAP_PROP_EXPOSURE, float(exposure))):
        cap.release()
        raise CameraError(f"camera {source}: the driver refused a manual exposure of {exposure:g} "
                          "(the calibration file's exposure; remove it to use the driver's auto exposure)")
    return Camera(_capture_grabber(cap), f"device {source}", release=cap.release, clock=clock)


def open_video(path: str, clock=time.monotonic, loop: bool = True) -> Camera:
    """A video file played at its own frame rate, looping by default (a recorded lap)."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise CameraError(f"{path}: cannot open as a video file")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and 1 <= fps <= 240 else 15.0
    read = _capture_grabber(cap)
    state = {"frames": 0}

    def grab():
        frame = read()
        if frame is None and loop and state["frames"] > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            state["frames"] = 0
            frame = read()
        if frame is not None:
            state["frames"] += 1
        return frame  # None at the end when not looping: the loop sees a stalled camera

    return Camera(grab, path, release=cap.release, clock=clock, interval_s=1.0 / fps)


def _video_scheme(source: str, clock) -> Camera:
    return open_video(source.split("://", 1)[1], clock)


def _device_scheme(source: str, clock) -> Camera:
    return open_device(source.split("://", 1)[1], clock)


register_camera_scheme("video", _video_scheme)
register_camera_scheme("device", _device_scheme)


def open_camera(source: str, clock: Callable[[], float] = time.monotonic, *, exposure: float | None = None) -> Camera:
    """Build (not start) the camera for `source`: "0", "/dev/video0", "lap.mp4", "scheme://...".

    `exposure` (a device's fixed exposure, open_device) applies to camera devices; a video file or another
    scheme has none to set, so it is ignored there with a log line. CameraError names the source when it
    cannot be opened or is unknown.
    """
    source = str(source)
    if "://" in source:
        scheme, rest = source.split("://", 1)
        scheme = scheme.lower()
        if scheme == "device":
            return open_device(rest, clock, exposure)
        _no_exposure(source, exposure)
        if scheme not in _SCHEMES and scheme in LAZY_SCHEMES:
            try:  # the module registers its scheme when imported
                importlib.import_module(LAZY_SCHEMES[scheme])
            except ModuleNotFoundError as exc:
                if exc.name != LAZY_SCHEMES[scheme]:
                    raise
        if scheme not in _SCHEMES:
            raise CameraError(f"camera {source}: unknown scheme '{scheme}' (known: {', '.join(camera_schemes())})")
        return _SCHEMES[scheme](source, clock)
    if source.isdigit():
        return open_device(int(source), clock, exposure)
    try:
        mode = os.stat(source).st_mode
    except OSError:
        raise CameraError(f"camera {source}: no such device or video file") from None
    if stat.S_ISCHR(mode):
        return open_device(source, clock, exposure)
    _no_exposure(source, exposure)
    return open_video(source, clock)


def _no_exposure(source: str, exposure: float | None) -> None:
    if exposure is not None:
        log.info("camera %s: not a camera device, so its exposure %g is not set", source, exposure)
