"""Serial motor controller drivers (pyserial), chosen by name with `open_controller`.

Every driver has one job: turn a (steering_us, throttle_us) pair into the
bytes its controller understands and write them. `port` is a device path
(/dev/ttyACM0, a /dev/serial/by-id/ link, a pseudo-terminal) or any pyserial
URL (loop://, socket://host:port, rfc2217://...). Any failure to open or write
raises ControllerError; the caller (hardware/link.py) decides what to do.

Writes time out after 250 ms, the controllers' own failsafe time: a port that
cannot take a command for that long has let the car go neutral anyway, so the
link is declared down. (Not shorter: pyserial raises a timeout even after a
write succeeded if the process was descheduled meanwhile, and a busy Pi must
not drop a healthy link for that.)
"""
from __future__ import annotations

import threading
import time

import serial

from racekit.hardware.errors import ControllerError
from racekit.hardware.protocols import maestro, mm1, racekit

WRITE_TIMEOUT_S = 0.25


class SerialController:
    """Base driver: opens the port, serialises writes (a keep-alive thread may share it)."""

    name = "serial"
    default_baudrate = 115200

    def __init__(self, port: str, baudrate: int | None = None, clock=time.monotonic,
                 write_timeout_s: float = WRITE_TIMEOUT_S):
        self.port = port
        self.clock = clock
        self.frames_sent = 0
        self._lock = threading.Lock()
        try:
            # timeout=0: reads never block (acks are polled after each write).
            self._serial = serial.serial_for_url(
                port, baudrate=baudrate or self.default_baudrate, timeout=0, write_timeout=write_timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ControllerError(f"{port}: cannot open serial port for '{self.name}' ({exc})") from None

    def encode(self, steering_us: float, throttle_us: float) -> bytes:
        raise NotImplementedError

    def send(self, steering_us: float, throttle_us: float) -> bytes:
        """Encode and write one command; returns the bytes written."""
        with self._lock:
            data = self.encode(steering_us, throttle_us)
            self._write(data)
            self.frames_sent += 1
            self._after_write()
            return data

    def _write(self, data: bytes) -> None:
        try:
            written = self._serial.write(data)
        except (serial.SerialException, OSError) as exc:  # SerialTimeoutException is a SerialException
            raise ControllerError(f"{self.port}: serial write failed ({exc})") from None
        if written is not None and written != len(data):
            raise ControllerError(f"{self.port}: serial write incomplete ({written} of {len(data)} bytes)")

    def _after_write(self) -> None:
        """Hook for protocols that read a reply (racekit acks)."""

    def close(self) -> None:
        with self._lock:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass  # the port is already gone (unplugged): nothing left to release


class MaestroController(SerialController):
    """Pololu Maestro, compact protocol Set Target on two channels."""

    name = "maestro"

    def __init__(self, port: str, baudrate: int | None = None, clock=time.monotonic,
                 write_timeout_s: float = WRITE_TIMEOUT_S, steering_channel: int = 0, throttle_channel: int = 1):
        if steering_channel == throttle_channel:
            raise ControllerError(f"{port}: steering and throttle channels must differ (both {steering_channel})")
        self.steering_channel = steering_channel
        self.throttle_channel = throttle_channel
        super().__init__(port, baudrate, clock, write_timeout_s)

    def encode(self, steering_us: float, throttle_us: float) -> bytes:
        # One write for both channels, so both targets change in the same instant.
        return (maestro.encode_set_target(self.steering_channel, steering_us)
                + maestro.encode_set_target(self.throttle_channel, throttle_us))


class Mm1Controller(SerialController):
    """RoboHAT MM1: "steering_us, throttle_us\\r" at 115200 baud."""

    name = "mm1"
    default_baudrate = mm1.BAUDRATE

    def encode(self, steering_us: float, throttle_us: float) -> bytes:
        return mm1.encode(steering_us, throttle_us)


class RacekitController(SerialController):
    """racekit firmware: CRC-checked frames, each acknowledged by sequence number.

    The acks are the controller's heartbeat: once acks have flowed, silence
    for `ack_timeout_s` means the controller is gone and send() raises. Before
    the first ack the driver waits `boot_grace_s`, because an Arduino resets
    when the port opens and its bootloader takes 1-2 s.
    """

    name = "racekit"
    default_baudrate = racekit.BAUDRATE

    def __init__(self, port: str, baudrate: int | None = None, clock=time.monotonic,
                 write_timeout_s: float = WRITE_TIMEOUT_S, ack_timeout_s: float | None = 0.5,
                 boot_grace_s: float = 2.5):
        super().__init__(port, baudrate, clock, write_timeout_s)
        self.ack_timeout_s = ack_timeout_s
        self.boot_grace_s = boot_grace_s
        self.seq = 0
        self.acks = 0
        self.last_acked_seq: int | None = None
        self.failsafe_reports = 0  # acks saying the controller's own watchdog had fired
        self._acks = racekit.AckDecoder()
        self._opened_at = clock()
        self._unacked_since: float | None = None

    def encode(self, steering_us: float, throttle_us: float) -> bytes:
        frame = racekit.encode_command(self.seq, steering_us, throttle_us)
        self.seq = (self.seq + 1) & 0xFF
        return frame

    def _after_write(self) -> None:
        now = self.clock()
        if self._unacked_since is None:
            self._unacked_since = now
        self.poll_acks()
        if self.ack_timeout_s is None or self._unacked_since is None:
            return
        if self.acks == 0:
            if now - self._opened_at > self.boot_grace_s:
                raise ControllerError(f"{self.port}: no acknowledgement from the racekit controller "
                                      f"{self.boot_grace_s:g} s after opening (wrong port or protocol?)")
        elif now - self._unacked_since > self.ack_timeout_s:
            raise ControllerError(f"{self.port}: the racekit controller stopped acknowledging "
                                  f"(nothing for {now - self._unacked_since:.2f} s)")

    def poll_acks(self) -> None:
        """Read whatever acks have arrived, without blocking."""
        try:
            waiting = self._serial.in_waiting
            data = self._serial.read(waiting) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise ControllerError(f"{self.port}: serial read failed ({exc})") from None
        for seq, status in self._acks.feed(data):
            self.acks += 1
            self.last_acked_seq = seq
            self._unacked_since = None
            if status & racekit.STATUS_FAILSAFE:
                self.failsafe_reports += 1


CONTROLLERS: dict[str, type[SerialController]] = {
    "maestro": MaestroController,
    "mm1": Mm1Controller,
    "racekit": RacekitController,
}


def open_controller(name: str, port: str, *, baudrate: int | None = None, clock=time.monotonic,
                    write_timeout_s: float = WRITE_TIMEOUT_S, steering_channel: int = 0,
                    throttle_channel: int = 1) -> SerialController:
    """Open the driver called `name` on `port`; ControllerError if the name or the port is bad.

    The Maestro channels apply to 'maestro' only (the other controllers have
    fixed steering/throttle outputs).
    """
    if name not in CONTROLLERS:
        raise ControllerError(f"unknown controller {name!r} (choose from: {', '.join(CONTROLLERS)})")
    if name == "maestro":
        return MaestroController(port, baudrate, clock, write_timeout_s, steering_channel=steering_channel,
                                 throttle_channel=throttle_channel)
    return CONTROLLERS[name](port, baudrate, clock, write_timeout_s)
