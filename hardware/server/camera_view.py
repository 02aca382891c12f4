"""One camera shared by the drive loop and the live view, and the MJPEG stream of it.

A V4L2 camera can be opened by one reader only, so the service opens it once
and hands the same started `Camera` to whoever needs it: the drive loop and
any number of browsers. It is opened on first use and closed when the last
user lets go (an idle car does not keep the camera busy).
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

import cv2

from racekit.hardware.camera import Camera, open_camera

BOUNDARY = "racekitframe"
VIEW_FPS = 10.0  # enough to see what the car sees, cheap on a Pi
VIEW_MAX_WIDTH = 320
JPEG_QUALITY = 70


class SharedCamera:
    def __init__(self, source: str, opener: Callable[[str], Camera] = open_camera):
        self.source = source
        self._opener = opener
        self._camera: Camera | None = None
        self._users = 0
        self._lock = threading.Lock()

    def acquire(self) -> Camera:
        """The started camera; CameraError if it cannot be opened. Pair with release()."""
        with self._lock:
            if self._camera is None:
                self._camera = self._opener(self.source).start()
            self._users += 1
            return self._camera

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0 and self._camera is not None:
                camera, self._camera, self._users = self._camera, None, 0
                camera.stop()

    @property
    def users(self) -> int:
        return self._users


def encode_jpeg(frame) -> bytes:
    """A camera frame (BGR) as a small JPEG for the phone screen."""
    h, w = frame.shape[:2]
    if w > VIEW_MAX_WIDTH:
        frame = cv2.resize(frame, (VIEW_MAX_WIDTH, max(1, h * VIEW_MAX_WIDTH // w)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def mjpeg_parts(camera: Camera, stop: threading.Event, max_s: float, fps: float = VIEW_FPS) -> Iterator[bytes]:
    """multipart/x-mixed-replace parts, one per new frame, at most `fps`, for at most `max_s` seconds.

    A blocking generator (Starlette runs it in a worker thread): the waits
    are on `stop`, so a shutting-down server ends every stream at once. The
    time limit bounds a stream left open in a forgotten tab; the console
    page reconnects when a stream ends.
    """
    period = 1.0 / fps
    end = time.monotonic() + max_s
    last_index = 0
    while not stop.is_set() and time.monotonic() < end:
        latest = camera.latest()
        if latest is None or latest.index == last_index:
            stop.wait(min(period, 0.05))
            continue
        last_index = latest.index
        jpeg = encode_jpeg(latest.frame)
        yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
               + jpeg + b"\r\n")
        stop.wait(period)
