"""A software RPLIDAR A1 on a pseudo-terminal: the device's real protocol bytes, for the stand-in car and tests.

It answers GET_HEALTH, GET_INFO, SCAN, STOP, RESET and SET_PWM as the device
does (descriptors, payloads, 5-byte samples) and streams `samples_per_rev`
samples per revolution at `scan_hz` revolutions per second, each sample's
distance taken from `scene(angle_deg)` (the device's frame: clockwise from its
heading; 0 = no return). On cue it goes silent, sends garbage bytes once, or
jams (only garbage). The bytes are built here independently of
hardware/lidar.py, straight from Slamtec's protocol document, so a test of one
against the other checks both.

`RangesScene` is the scene of a simulated car: 64 ranges on DeepRacer's rays
(hardware/lidar_observation.py's RAY_ANGLES_DEG, the simulator's `lidar_ranges`)
seen by a device mounted as on DeepRacer Evo (turned around, counting
clockwise): the inverse of `scan_to_ranges`, so the car's driver and
preprocessing get back the ranges the simulator cast (to the protocol's
0.25 mm). `racekit sim serve` streams its car's scan this way.
"""
from __future__ import annotations

import os
import select
import threading
import time
from typing import Callable

import numpy as np

from racekit.hardware.lidar_observation import (EVO_MOUNT_YAW_DEG, MAX_RANGE, NUM_RAYS, RAY_ANGLES_DEG,
                                                RAY_SPACING_DEG)
from racekit.hardware.virtual import PtyPort

TICK_S = 0.01  # the stream is written in batches this often
BANNER = b"RP LIDAR System.\r\nFirmware Ver 1.29 - rc9, HW Ver 7\r\nModel: 18\r\n"  # printed after RESET


def encode_sample(start: bool, quality: int, angle_deg: float, distance_m: float) -> bytes:
    """One scan sample: S, !S, quality | C, angle_q6 (LE) | distance_q2 (LE)."""
    angle_q6 = round(angle_deg * 64) % (360 * 64)
    dist_q2 = min(round(distance_m * 4000), 0xFFFF)  # 16 bits: 16.38 m at most
    b0 = (quality & 0x3F) << 2 | (0b01 if start else 0b10)
    return bytes([b0]) + (angle_q6 << 1 | 1).to_bytes(2, "little") + dist_q2.to_bytes(2, "little")


def descriptor(length: int, mode: int, dtype: int) -> bytes:
    return bytes([0xA5, 0x5A, length & 0xFF, length >> 8 & 0xFF, length >> 16 & 0xFF,
                  (length >> 24 & 0x3F) | mode << 6, dtype])


class VirtualLidar:
    """`with VirtualLidar(scene) as device:` then open the driver on `device.port`."""

    def __init__(self, scene: Callable[[float], float] | None = None, *, samples_per_rev: int = 180,
                 scan_hz: float = 10.0, health: tuple[int, int] = (0, 0), reset_clears: bool = True):
        self.scene = scene or (lambda a: 0.0)
        self.samples_per_rev = samples_per_rev
        self.scan_hz = scan_hz
        self.health = health  # (status 0 good / 1 warning / 2 error, error code)
        self.reset_clears = reset_clears  # a RESET brings the health back to good
        self.health_reply: bytes | None = None  # raw bytes to answer GET_HEALTH with instead (garbage on cue)
        self.mute = False  # answer no command at all
        self.silent = False  # stop streaming samples (a LIDAR that stops sending)
        self.jammed = False  # stream only bytes that fail the sample checks
        self.commands: list[int] = []  # every command byte received, in order
        self.pwm: list[int] = []  # every SET_PWM value received
        self.bad_checksums = 0
        self.scanning = False
        self.revolutions = 0  # revolutions streamed since the last SCAN
        self._pty = PtyPort()
        self.port = self._pty.path
        self._garbage = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- cues --------------------------------------------------------------
    def send_garbage(self, data: bytes) -> None:
        """Insert `data` into the stream once, between two samples."""
        with self._lock:
            self._garbage += data

    def start(self) -> "VirtualLidar":
        self._thread = threading.Thread(target=self._run, name="virtual-rplidar", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._pty.close()

    def __enter__(self) -> "VirtualLidar":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the device --------------------------------------------------------
    def _run(self) -> None:
        inbox = bytearray()
        sent = 0.0  # samples streamed since SCAN (fractional: the rate is not a whole number per tick)
        t0 = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._pty.fd], [], [], TICK_S)
            if ready:
                try:
                    inbox += os.read(self._pty.fd, 4096)
                except (BlockingIOError, OSError):
                    pass  # nobody on the other side right now
            for cmd in self._commands(inbox):
                if cmd == 0x20:
                    sent, t0 = 0.0, time.monotonic()
            if self.scanning:  # while silent the head keeps turning: those samples are never sent
                count = int((time.monotonic() - t0) * self.scan_hz * self.samples_per_rev - sent)
                if not self.silent:
                    self._write(self._samples(int(sent), count))
                sent += count

    def _commands(self, inbox: bytearray) -> list[int]:
        """Parse and answer the complete requests in `inbox` (consumed); returns their command bytes."""
        done = []
        while inbox:
            if inbox[0] != 0xA5:
                del inbox[0]
                continue
            if len(inbox) < 2:
                break
            cmd, size = inbox[1], 0
            if cmd & 0x80:  # a payload follows: size, payload, checksum
                if len(inbox) < 3 or len(inbox) < 4 + inbox[2]:
                    break
                size = inbox[2] + 2
                checksum = 0
                for byte in inbox[:3 + inbox[2]]:
                    checksum ^= byte
                if checksum != inbox[3 + inbox[2]]:
                    self.bad_checksums += 1
                    del inbox[:2 + size]
                    continue
                if cmd == 0xF0:
                    self.pwm.append(int.from_bytes(inbox[3:5], "little"))
            del inbox[:2 + size]
            self.commands.append(cmd)
            done.append(cmd)
            if not self.mute:
                self._answer(cmd)
        return done

    def _answer(self, cmd: int) -> None:
        if cmd == 0x52:  # GET_HEALTH
            status, code = self.health
            self._write(self.health_reply if self.health_reply is not None else
                        descriptor(3, 0, 0x06) + bytes([status]) + code.to_bytes(2, "little"))
        elif cmd == 0x50:  # GET_INFO: model 0x18 (A1M8), firmware 1.29, hardware 7, a serial number
            self._write(descriptor(20, 0, 0x04) + bytes([0x18, 29, 1, 7]) + bytes(range(16)))
        elif cmd == 0x20:  # SCAN
            self._write(descriptor(5, 1, 0x81))
            self.scanning, self.revolutions = True, 0
        elif cmd == 0x25:  # STOP
            self.scanning = False
        elif cmd == 0x40:  # RESET
            self.scanning = False
            if self.reset_clears:
                self.health = (0, 0)
            self._write(BANNER)

    def _samples(self, first: int, count: int) -> bytes:
        out = bytearray()
        for k in range(first, first + count):
            with self._lock:
                if self._garbage:
                    out += self._garbage
                    self._garbage.clear()
            if self.jammed:
                out += bytes(5)  # S == !S == 0: fails the check
                continue
            i = k % self.samples_per_rev
            if i == 0:
                self.revolutions += 1
            angle = i * 360.0 / self.samples_per_rev
            dist = self.scene(angle)
            out += encode_sample(i == 0, 15 if dist > 0 else 0, angle, dist)
        return bytes(out)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 0.5
        while view and not self._stop.is_set():
            try:
                view = view[os.write(self._pty.fd, view):]
            except BlockingIOError:  # the driver is not reading: wait a little, then the bytes are lost
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)
            except OSError:
                return  # nobody holds the port


class RangesScene:
    """A scene (device angle -> distance, 0 = no return) showing 64 ranges on DeepRacer's rays, for a device
    whose 0 points at `mount_yaw_deg` in the car's frame and counts clockwise; `set(ranges)` from any thread.

    A sample's angle is taken as the protocol carries it (1/64 degree) and binned into a ray exactly as
    scan_to_ranges bins it; a ray with nothing within MAX_RANGE (inf, NaN) gives no return."""

    def __init__(self, ranges=None, mount_yaw_deg: float = EVO_MOUNT_YAW_DEG):
        self.mount_yaw_deg = mount_yaw_deg
        self._distances = np.zeros(NUM_RAYS + 1)  # the last entry: outside every ray (the blind cone)
        self._lock = threading.Lock()
        if ranges is not None:
            self.set(ranges)

    def set(self, ranges) -> None:
        r = np.asarray(ranges, np.float64).reshape(-1)
        if r.shape != (NUM_RAYS,):
            raise ValueError(f"LIDAR ranges must be {NUM_RAYS} values, got {r.size}")
        seen = np.isfinite(r) & (r > 0) & (r <= MAX_RANGE)
        distances = np.append(np.where(seen, r, 0.0), 0.0)
        with self._lock:
            self._distances = distances

    def ray(self, angle_deg: float) -> int:
        """The ray a sample at this device angle lands on (NUM_RAYS: none)."""
        angle = float(np.float32((round(angle_deg * 64) % (360 * 64)) / 64.0))  # as the driver reads it back
        car = self.mount_yaw_deg - angle
        k = int(np.floor((car - RAY_ANGLES_DEG[0] + RAY_SPACING_DEG / 2) % 360.0 / RAY_SPACING_DEG))
        return min(k, NUM_RAYS)

    def __call__(self, angle_deg: float) -> float:
        with self._lock:
            return float(self._distances[self.ray(angle_deg)])


def open_virtual_lidar(scene: Callable[[float], float] | None = None, **options) -> VirtualLidar:
    """A started VirtualLidar on a new pseudo-terminal; pass `.port` to the driver (`--lidar`)."""
    return VirtualLidar(scene, **options).start()
