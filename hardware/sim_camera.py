"""The simulator's camera as a car camera: `--camera sim://127.0.0.1:PORT`.

`racekit sim serve` renders the simulated car's front camera and streams it
over TCP on 127.0.0.1. This module is both ends of that stream's format and
the client that the car runtime opens by URL (hardware/camera.py imports it on
the first `sim://` source; importing it registers the scheme). Standard
library + numpy only, like the rest of the car runtime.

The stream: the server writes frames back to back, each a 28-byte header
    magic b"RKF1", width u16, height u16, channels u16, 0 u16, index u64, sim_time f64
(little-endian) then width*height*channels bytes, row-major, BGR (or one gray
channel): exactly what OpenCV's VideoCapture hands the loop. The client sends
nothing; it keeps only the newest frame, as a real camera driver does.
"""
from __future__ import annotations

import logging
import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from racekit.hardware.camera import Camera, register_camera_scheme
from racekit.hardware.errors import CameraError

log = logging.getLogger("racekit.hardware.sim_camera")
SCHEME = "sim"
MAGIC = b"RKF1"
HEADER = struct.Struct("<4sHHHHQd")
MAX_SIDE = 4096  # a larger frame is a corrupt header, not a camera
CONNECT_TIMEOUT_S = 3.0  # how long opening waits for the server (it may still be starting)
READ_TIMEOUT_S = 0.2  # one grab() blocks at most about this long, so Camera.stop() stays prompt
RECONNECT_S = 0.5  # pause between reconnection attempts after the server went away


@dataclass(frozen=True)
class StreamFrame:
    frame: np.ndarray  # uint8 [H, W, C]
    index: int  # the server's frame counter
    sim_time: float  # simulated seconds when it was rendered


def encode_frame(frame: np.ndarray, index: int, sim_time: float) -> bytes:
    """One frame (uint8 [H, W, 1 or 3] or [H, W]) as it goes on the wire."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (1, 3):
        raise ValueError(f"a stream frame is uint8 [H, W, 1 or 3], got {frame.dtype} {frame.shape}")
    h, w, c = frame.shape
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise ValueError(f"frame size {w}x{h} is outside 1..{MAX_SIDE}")
    return HEADER.pack(MAGIC, w, h, c, 0, index, sim_time) + np.ascontiguousarray(frame).tobytes()


class FrameDecoder:
    """Reassembles frames from received bytes; ValueError on anything that is not this stream."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[StreamFrame]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            magic, w, h, c, _, index, sim_time = HEADER.unpack_from(self._buf)
            if magic != MAGIC or c not in (1, 3) or not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
                raise ValueError(f"not a racekit camera stream (header {bytes(self._buf[:8])!r})")
            end = HEADER.size + w * h * c
            if len(self._buf) < end:
                break
            frame = np.frombuffer(bytes(self._buf[HEADER.size:end]), np.uint8).reshape(h, w, c)
            out.append(StreamFrame(frame, index, sim_time))
            del self._buf[:end]
        return out


def parse_source(source: str) -> tuple[str, int]:
    """"sim://HOST:PORT" -> (host, port); CameraError if it is not that."""
    rest = source.split("://", 1)[1] if "://" in source else ""
    host, _, port = rest.strip("/").rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise CameraError(f"camera {source}: expected {SCHEME}://HOST:PORT, e.g. {SCHEME}://127.0.0.1:5600")
    return host, int(port)


class SimStream:
    """The TCP connection to `racekit sim serve`: `grab()` is the Camera's grab function.

    A lost connection (the simulator restarted) is reopened every RECONNECT_S;
    meanwhile grab() gives no frames, so the car loop sees a camera stall and
    holds the car at neutral.
    """

    def __init__(self, host: str, port: int, read_timeout_s: float = READ_TIMEOUT_S):
        self.host, self.port = host, port
        self.read_timeout_s = read_timeout_s
        self.frames = 0  # frames delivered
        self.last: StreamFrame | None = None
        self._sock: socket.socket | None = None
        self._decoder = FrameDecoder()
        self._next_try = 0.0
        self._closed = False

    def connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        """First connection, retried until `timeout_s`; CameraError if nobody listens."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._open()
                return
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise CameraError(f"camera {SCHEME}://{self.host}:{self.port}: cannot connect ({exc.strerror or exc}); "
                                      f"is `racekit sim serve` running?") from None
                time.sleep(0.1)

    def _open(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=1.0)
        sock.settimeout(self.read_timeout_s)
        self._sock, self._decoder = sock, FrameDecoder()

    def _drop(self, why: str) -> None:
        log.warning("camera %s://%s:%d: %s; reconnecting", SCHEME, self.host, self.port, why)
        self._close_socket()
        self._next_try = time.monotonic() + RECONNECT_S

    def grab(self) -> np.ndarray | None:
        """The newest complete frame received within the read timeout, or None."""
        if self._sock is None:
            if self._closed or time.monotonic() < self._next_try:
                time.sleep(min(self.read_timeout_s, max(0.0, self._next_try - time.monotonic())))
                return None
            try:
                self._open()
                log.warning("camera %s://%s:%d: connected again", SCHEME, self.host, self.port)
            except OSError:
                self._next_try = time.monotonic() + RECONNECT_S
                return None
        deadline = time.monotonic() + self.read_timeout_s
        newest = None
        while newest is None and time.monotonic() < deadline:
            try:
                data = self._sock.recv(1 << 18)
            except TimeoutError:
                return None
            except OSError as exc:
                self._drop(f"connection lost ({exc.strerror or exc})")
                return None
            if not data:
                self._drop("the simulator closed the stream")
                return None
            try:
                frames = self._decoder.feed(data)
            except ValueError as exc:
                self._drop(str(exc))
                return None
            if frames:  # several at once (this thread was late): only the newest matters
                newest = frames[-1]
        if newest is None:
            return None
        self.frames += 1
        self.last = newest
        return newest.frame

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self._closed = True
        self._close_socket()


def open_sim_camera(source: str, clock: Callable[[], float] = time.monotonic) -> Camera:
    """The Camera for "sim://HOST:PORT" (connected, not started); CameraError if it cannot connect."""
    host, port = parse_source(source)
    stream = SimStream(host, port)
    stream.connect()
    camera = Camera(stream.grab, source, release=stream.close, clock=clock)
    camera.stream = stream  # for tests and the bench: frames received, the last sim_time
    return camera


register_camera_scheme(SCHEME, open_sim_camera)
