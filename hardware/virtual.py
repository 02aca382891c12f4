"""Software motor controllers: a real controller's behaviour behind a file descriptor.

A VirtualController reads bytes from an fd (by default the controller side of
a fresh pseudo-terminal, whose other side a driver opens like a USB serial
port), parses them with the same decoder a firmware would use, keeps the
current pulses, records every change with a timestamp, acknowledges racekit
frames, and applies its own failsafe: neutral when no valid command has
arrived for `failsafe_s` (250 ms). Tests use it in place of a car; the
simulator stand-in reads `pulses` (or gets `on_pulses` calls) to drive the
simulated car.
"""
from __future__ import annotations

import collections
import logging
import os
import select
import threading
import time
import tty
from dataclasses import dataclass
from typing import Callable

from racekit.hardware.protocols import Decoded, make_decoder

log = logging.getLogger("racekit.hardware.virtual")
DEFAULT_NEUTRAL = (1450.0, 1446.0)  # DeepRacer's servo centre and ESC neutral, microseconds
FAILSAFE_S = 0.25
POLL_S = 0.005  # failsafe resolution: 5 ms on top of the 250 ms


@dataclass(frozen=True)
class PulseRecord:
    t: float  # the controller's clock (time.monotonic by default)
    steering_us: float
    throttle_us: float
    source: str  # "command" (a valid frame from the host) or "failsafe" (own watchdog)


class PtyPort:
    """A pseudo-terminal: `fd` is the controller's side, `path` the port a driver opens.

    The driver's side is kept open here too, so that the controller side does
    not see end-of-file between the driver's open and close (Linux gives EIO
    on a pty whose other side nobody holds).
    """

    def __init__(self):
        self.fd, self._peer = os.openpty()
        tty.setraw(self._peer)  # no echo, no line editing, no CR/LF translation: a plain byte pipe
        self.path = os.ttyname(self._peer)
        os.set_blocking(self.fd, False)

    def close(self) -> None:
        for fd in (self.fd, self._peer):
            try:
                os.close(fd)
            except OSError:
                pass  # closed already
        self.fd = self._peer = -1


class VirtualController:
    """A motor controller in a thread: `start()`, `stop()`, `pulses`, `history`."""

    def __init__(self, protocol: str, fd: int | None = None, *, neutral: tuple[float, float] = DEFAULT_NEUTRAL,
                 failsafe_s: float = FAILSAFE_S, clock: Callable[[], float] = time.monotonic,
                 on_pulses: Callable[[PulseRecord], None] | None = None, history_len: int = 100_000,
                 **decoder_options):
        self.protocol = protocol
        self.decoder = make_decoder(protocol, **decoder_options)
        self._pty = PtyPort() if fd is None else None
        self.fd = self._pty.fd if self._pty else fd
        self.port = self._pty.path if self._pty else None  # what to pass as --serial
        self.neutral = (float(neutral[0]), float(neutral[1]))
        self.failsafe_s = failsafe_s
        self.clock = clock
        self.on_pulses = on_pulses
        self.frames = 0  # valid commands received
        self._pulses = self.neutral
        self._failsafe = True  # no command yet: outputs are neutral, as at power-up
        self._last_valid: float | None = None
        self._history: collections.deque[PulseRecord] = collections.deque(maxlen=history_len)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._disconnect = threading.Event()
        self._disconnected = threading.Event()
        self._thread: threading.Thread | None = None

    # -- public API --------------------------------------------------------
    def start(self) -> "VirtualController":
        self._thread = threading.Thread(target=self._run, name=f"virtual-{self.protocol}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the pty (if this controller made it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self.fd >= 0 and (self._pty is not None):
            self._close_link()

    def disconnect(self) -> None:
        """Close the link as if the USB cable were pulled: the driver's writes now fail,
        while this controller keeps running on its own power, so its failsafe still acts.

        The controller's thread closes the fd itself, so it can never read from
        a new file that happens to reuse the closed fd number.
        """
        self._disconnect.set()
        if self._thread is not None and self._thread.is_alive():
            self._disconnected.wait(2.0)
        else:
            self._close_link()

    def _close_link(self) -> None:
        fd, self.fd = self.fd, -1
        if self._pty is not None:
            self._pty.close()
        elif fd >= 0:
            os.close(fd)
        self._disconnected.set()

    def __enter__(self) -> "VirtualController":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pulses(self) -> tuple[float, float]:
        """Current (steering_us, throttle_us) outputs."""
        with self._cond:
            return self._pulses

    @property
    def in_failsafe(self) -> bool:
        with self._cond:
            return self._failsafe

    @property
    def bad(self) -> int:
        """Malformed or bad-CRC commands ignored so far."""
        return self.decoder.bad

    def history(self, source: str | None = None) -> list[PulseRecord]:
        """A copy of the recorded pulse changes, optionally only one source."""
        with self._cond:
            return [r for r in self._history if source is None or r.source == source]

    def wait_for(self, predicate: Callable[[list[PulseRecord]], bool], timeout: float) -> bool:
        """Block until predicate(history) is true or `timeout` seconds pass; returns the predicate."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._history)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    # -- the controller's main loop ---------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if self._disconnect.is_set() and self.fd >= 0:
                self._close_link()
            data = self._read()
            if data is None:  # no link: do not spin, but the failsafe keeps watching
                self._check_failsafe()
                self._stop.wait(POLL_S)
                continue
            for command in self.decoder.feed(data):
                self._apply(command)
            self._check_failsafe()

    def _read(self) -> bytes | None:
        """Bytes received within POLL_S (b"" if none); None when there is no link."""
        if self.fd < 0:
            return None
        try:
            ready, _, _ = select.select([self.fd], [], [], POLL_S)
            if not ready:
                return b""
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        except OSError:  # EIO: nobody holds the other side of the pty
            return None
        return data or None  # b"" after select: end of file

    def _apply(self, command: Decoded) -> None:
        now = self.clock()
        with self._cond:
            was_failsafe = self._failsafe
            steering = self._pulses[0] if command.steering_us is None else command.steering_us
            throttle = self._pulses[1] if command.throttle_us is None else command.throttle_us
            self._pulses = (steering, throttle)
            self._failsafe = False
            self._last_valid = now
            self.frames += 1
            record = PulseRecord(now, steering, throttle, "command")
            self._history.append(record)
            self._cond.notify_all()
        reply = self.decoder.reply(command, was_failsafe)
        if reply:
            try:
                os.write(self.fd, reply)
            except OSError:
                pass  # host not reading (buffer full) or gone: it will notice missing acks
        self._notify(record)

    def _check_failsafe(self) -> None:
        now = self.clock()
        with self._cond:
            if self._failsafe or self._last_valid is None or now - self._last_valid < self.failsafe_s:
                return
            self._failsafe = True
            self._pulses = self.neutral
            record = PulseRecord(now, *self.neutral, "failsafe")
            self._history.append(record)
            self._cond.notify_all()
        self._notify(record)

    def _notify(self, record: PulseRecord) -> None:
        if self.on_pulses is None:
            return
        try:
            self.on_pulses(record)
        except Exception:  # a bad callback must not silence the controller (and its failsafe)
            log.exception("on_pulses callback failed")


def open_virtual_controller(protocol: str, **options) -> VirtualController:
    """A started VirtualController on a new pseudo-terminal; pass `.port` to a driver."""
    return VirtualController(protocol, **options).start()
