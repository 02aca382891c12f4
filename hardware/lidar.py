"""The car's planar LIDAR: a driver for the RPLIDAR A1/A2 family over serial (pyserial).

DeepRacer Evo and DonkeyCar carry this LIDAR. The driver speaks the device's
documented protocol (Slamtec, "RPLIDAR Interface Protocol and Application
Notes", A1 & A2), 115200 baud:

  request     0xA5 cmd, or 0xA5 cmd size payload checksum (XOR of every byte before it)
  descriptor  0xA5 0x5A, then 4 bytes little-endian: response length (low 30 bits) and
              send mode (top 2 bits: 0 one answer, 1 a stream), then the data type
  GET_HEALTH  0x52 -> 3 bytes: status (0 good, 1 warning, 2 error), error code (uint16 LE)
  GET_INFO    0x50 -> 20 bytes: model, firmware minor, firmware major, hardware, serial number
  SCAN        0x20 -> 5-byte samples until STOP 0x25 (RESET 0x40 reboots the core):
                byte 0    bit 0 S (first sample of a new revolution), bit 1 !S, bits 2-7 quality
                bytes 1-2 little-endian: bit 0 C (always 1), bits 1-15 angle_q6 (degrees * 64)
                bytes 3-4 little-endian: distance_q2 (millimetres * 4; 0 = no return)
The angle grows clockwise seen from above, from the device's own heading;
hardware/lidar_observation.py turns it into the car's frame.

`Lidar` reads in its own thread and keeps only the newest complete revolution
with the time it was completed, as the camera keeps its newest frame, so the
car loop never blocks on it. The loop asks `stale()` (no new scan for
LIDAR_STALL_S) and treats a silent LIDAR as the fault "lidar-stall", neutral
like "camera-stall". A bad sample is skipped and counted and the stream
resynchronised; no valid sample for GARBAGE_BYTES sets `error`.
"""
from __future__ import annotations

import functools
import logging
import operator
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import serial

from racekit.hardware.errors import LidarError

log = logging.getLogger("racekit.hardware.lidar")
BAUDRATE = 115200
LIDAR_STALL_S = 0.5  # no complete scan for this long -> "lidar-stall" (2.5 revolutions at 5 Hz)
SYNC, SYNC2 = 0xA5, 0x5A
GET_INFO, GET_HEALTH, SCAN, STOP, RESET, SET_PWM = 0x50, 0x52, 0x20, 0x25, 0x40, 0xF0
# (length, mode, data type) of each answer's descriptor
INFO_REPLY, HEALTH_REPLY, SCAN_REPLY = (20, 0, 0x04), (3, 0, 0x06), (5, 1, 0x81)
HEALTH_STATUS = {0: "good", 1: "warning", 2: "error"}
SAMPLE_LEN = 5
GARBAGE_BYTES = 1000  # this many bytes without a valid sample (~0.1 s of line time) -> `error`
READ_TIMEOUT_S = 0.05  # the reader thread's poll: how soon stop() is noticed
SAMPLE_GAP_S = 0.1  # the line quiet this long inside a revolution (samples come every ~0.5 ms): the
# revolution has a hole where the device paused, and is dropped rather than published without that part
WRITE_TIMEOUT_S = 0.25
STOP_WAIT_S = 0.02  # after STOP, before flushing what the device sent meanwhile
RESET_WAIT_S = 0.5  # the core reboots (and prints a banner) after RESET


@dataclass(frozen=True)
class Scan:
    """One revolution, in the device's frame."""
    angles_deg: np.ndarray  # float32 [N], clockwise from the device's heading, [0, 360)
    distances_m: np.ndarray  # float32 [N], 0 = no return
    quality: np.ndarray  # uint8 [N], the reflected pulse's strength
    index: int  # 1, 2, 3, ... per complete revolution: tells the loop whether a scan is new
    t: float  # clock() when the revolution was complete


@dataclass(frozen=True)
class DeviceInfo:
    model: int
    firmware: tuple[int, int]  # (major, minor)
    hardware: int
    serial_number: str  # 32 hex digits


def request(cmd: int, payload: bytes = b"") -> bytes:
    """A request packet: 0xA5 cmd, with size, payload and XOR checksum when there is a payload."""
    if not payload:
        return bytes([SYNC, cmd])
    packet = bytes([SYNC, cmd, len(payload)]) + payload
    return packet + bytes([functools.reduce(operator.xor, packet, 0)])


def descriptor(length: int, mode: int, dtype: int) -> bytes:
    """A response descriptor (what the device sends before an answer)."""
    return bytes([SYNC, SYNC2]) + (length | mode << 30).to_bytes(4, "little") + bytes([dtype])


def sample_ok(data, i: int = 0) -> bool:
    """Whether data[i:i+5] passes a sample's checks: S != !S, C == 1, angle below 360 degrees."""
    return bool((data[i] ^ data[i] >> 1) & 1) and data[i + 1] & 1 == 1 and \
        (data[i + 1] | data[i + 2] << 8) >> 1 < 360 * 64


class Lidar:
    """An RPLIDAR on `port` (a device path such as /dev/ttyUSB0, a pseudo-terminal or a pyserial URL).

    `start()` checks health, spins the motor and starts scanning; `latest()`
    returns the newest complete Scan without blocking; `stop()` stops the scan
    and the motor and closes the port. A1 spins while DTR is low; an A2 also
    needs `motor_pwm` (0-1023, 660 is Slamtec's default).
    """

    def __init__(self, port: str, baudrate: int = BAUDRATE, *, clock: Callable[[], float] = time.monotonic,
                 motor_pwm: int | None = None, timeout_s: float = 1.0):
        self.port = self.name = port
        self.clock = clock
        self.motor_pwm = motor_pwm
        self.timeout_s = timeout_s
        self.dropped = 0  # samples that failed their checks (each one starts a resynchronisation)
        self.error: LidarError | None = None  # set while the stream is not the protocol, or the port failed
        self._latest: Scan | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=READ_TIMEOUT_S,
                                                 write_timeout=WRITE_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LidarError(f"LIDAR {port}: cannot open serial port ({exc})") from None

    # -- commands (before the scan starts) -----------------------------------
    def info(self) -> DeviceInfo:
        raw = self._ask(GET_INFO, INFO_REPLY, "GET_INFO")
        return DeviceInfo(raw[0], (raw[2], raw[1]), raw[3], raw[4:20].hex())

    def health(self) -> tuple[str, int]:
        """("good" | "warning" | "error", error code)."""
        raw = self._ask(GET_HEALTH, HEALTH_REPLY, "GET_HEALTH")
        if raw[0] not in HEALTH_STATUS:
            raise LidarError(f"LIDAR {self.port}: GET_HEALTH answered an unknown status {raw[0]}")
        return HEALTH_STATUS[raw[0]], int.from_bytes(raw[1:3], "little")

    def reset(self) -> None:
        self._write(request(RESET))
        time.sleep(RESET_WAIT_S)
        self._serial.reset_input_buffer()  # the boot banner

    def start(self) -> "Lidar":
        """Stop any scan still running, check health (one RESET on an error), then scan."""
        self._write(request(STOP))
        time.sleep(STOP_WAIT_S)
        self._serial.reset_input_buffer()
        status, code = self.health()
        if status == "error":
            log.warning("LIDAR %s: health error (code 0x%04x); resetting it", self.port, code)
            self.reset()
            status, code = self.health()
            if status == "error":
                raise LidarError(f"LIDAR {self.port}: health status error (code 0x{code:04x}) after a reset: "
                                 "the device is in protection stop; power-cycle it")
        if status == "warning":
            log.warning("LIDAR %s: health warning (code 0x%04x)", self.port, code)
        self._motor(True)
        self._ask(SCAN, SCAN_REPLY, "SCAN")
        self._thread = threading.Thread(target=self._run, name=f"lidar {self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading, stop the scan and the motor, close the port (best effort: it may be gone)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._serial.is_open:
            try:
                self._serial.write(request(STOP))
                self._motor(False)
            except (serial.SerialException, OSError):
                pass  # the port is gone: the device stops when it loses power
            self._serial.close()

    # -- what the car loop reads ---------------------------------------------
    def latest(self) -> Scan | None:
        with self._lock:
            return self._latest

    def age(self) -> float:
        """Seconds since the last complete scan (infinite before the first)."""
        latest = self.latest()
        return float("inf") if latest is None else self.clock() - latest.t

    def stale(self, max_age_s: float = LIDAR_STALL_S) -> bool:
        """True when the newest scan is older than max_age_s (or there is none): the car goes neutral."""
        return self.age() >= max_age_s

    # -- the serial line -----------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LidarError(f"LIDAR {self.port}: serial write failed ({exc})") from None

    def _read_exact(self, n: int, what: str) -> bytes:
        data = bytearray()
        deadline = time.monotonic() + self.timeout_s
        while len(data) < n and time.monotonic() < deadline:
            try:
                data += self._serial.read(n - len(data))
            except (serial.SerialException, OSError) as exc:
                raise LidarError(f"LIDAR {self.port}: serial read failed ({exc})") from None
        if len(data) < n:
            raise LidarError(f"LIDAR {self.port}: no answer to {what} within {self.timeout_s:g} s "
                             f"(got {len(data)} of {n} bytes: {bytes(data).hex(' ') or 'nothing'})")
        return bytes(data)

    def _ask(self, cmd: int, reply: tuple[int, int, int], what: str) -> bytes:
        """Send a command, check its descriptor against `reply`; the answer, or b"" for a stream."""
        self._write(request(cmd))
        got = self._read_exact(7, what)
        if got != descriptor(*reply):
            raise LidarError(f"LIDAR {self.port}: {what} answered with a wrong descriptor {got.hex(' ')} "
                             f"(expected {descriptor(*reply).hex(' ')}): not an RPLIDAR, or the wrong baud rate?")
        return self._read_exact(reply[0], what) if reply[1] == 0 else b""

    def _motor(self, on: bool) -> None:
        if self.motor_pwm is not None:  # A2: the speed command
            self._write(request(SET_PWM, int(self.motor_pwm if on else 0).to_bytes(2, "little")))
        try:
            self._serial.dtr = not on  # A1: MOTOCTL follows DTR, inverted, on Slamtec's USB adapter
        except (serial.SerialException, OSError):
            pass  # a pseudo-terminal or an adapter without modem lines: the motor is wired on

    # -- the reader thread ---------------------------------------------------
    def _run(self) -> None:
        buf = bytearray()
        synced, junk = True, 0
        points: list[tuple[int, int, int]] | None = None  # None until the first S=1 sample
        index, heard = 0, time.monotonic()
        while not self._stop.is_set():
            try:
                data = self._serial.read(self._serial.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                self._fail(LidarError(f"LIDAR {self.port}: serial read failed ({exc})"))
                return
            if data:
                now = time.monotonic()
                if points and now - heard > SAMPLE_GAP_S:
                    points = None  # a hole in this revolution: wait for the next one to start
                buf += data
                heard = now
            i = 0
            while len(buf) - i >= SAMPLE_LEN:
                ok = sample_ok(buf, i)
                if ok and not synced:  # after a bad sample, two in a row must pass before trusting one
                    if len(buf) - i < 2 * SAMPLE_LEN:
                        break
                    ok = sample_ok(buf, i + SAMPLE_LEN)
                if not ok:
                    if synced:
                        self.dropped += 1
                        synced = False
                    i, junk = i + 1, junk + 1
                    if junk == GARBAGE_BYTES:
                        self._fail(LidarError(f"LIDAR {self.port}: {junk} bytes without a valid scan sample "
                                              "(bad check bits): not an RPLIDAR scan, or the wrong baud rate?"))
                    continue
                if junk >= GARBAGE_BYTES:
                    log.warning("LIDAR %s: valid scan samples again", self.port)
                    self.error = None
                synced, junk = True, 0
                b0 = buf[i]
                if b0 & 1:  # S: a new revolution starts here, so the one before is complete
                    if points:
                        index += 1
                        self._publish(points, index)
                    points = []
                if points is not None:
                    points.append((b0 >> 2, (buf[i + 1] | buf[i + 2] << 8) >> 1, buf[i + 3] | buf[i + 4] << 8))
                i += SAMPLE_LEN
            del buf[:i]

    def _publish(self, points: list[tuple[int, int, int]], index: int) -> None:
        raw = np.array(points, np.int64)
        scan = Scan(angles_deg=(raw[:, 1] / 64.0).astype(np.float32),
                    distances_m=(raw[:, 2] / 4000.0).astype(np.float32),
                    quality=raw[:, 0].astype(np.uint8), index=index, t=self.clock())
        with self._lock:
            self._latest = scan

    def _fail(self, error: LidarError) -> None:
        self.error = error
        log.error("%s", error)


def open_lidar(port: str, **options) -> Lidar:
    """A started Lidar on `port` (options: baudrate, clock, motor_pwm, timeout_s); closed again if it fails."""
    lidar = Lidar(port, **options)
    try:
        return lidar.start()
    except LidarError:
        lidar.stop()
        raise
