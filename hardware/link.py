"""The serial link to the motor controller, kept alive across a lost port.

When a write fails (cable pulled, controller reset, pseudo-terminal closed)
the link tries one best-effort neutral, closes the port, and reopens it with
exponential back-off, logging each attempt. While it is down nothing is sent
(the controller's own 250 ms failsafe holds the car at neutral), and the
first command after a reconnect is always neutral, so the car never resumes
driving on a command computed before the outage.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from racekit.hardware.controllers import SerialController
from racekit.hardware.errors import ControllerError

log = logging.getLogger("racekit.hardware.link")


class ControllerLink:
    def __init__(self, controller: SerialController | None, opener: Callable[[], SerialController],
                 neutral: tuple[float, float], *, clock: Callable[[], float] = time.monotonic,
                 backoff_s: float = 0.1, backoff_max_s: float = 2.0):
        self._controller = controller
        self._opener = opener
        self.neutral_pulses = neutral
        self.clock = clock
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.failures = 0  # write failures that took the link down
        self.reconnects = 0
        self.attempts = 0  # failed reopen attempts in the current outage
        self.retry_delays: list[float] = []  # every back-off delay used (the profile shows them)
        self._next_try = clock()

    @property
    def connected(self) -> bool:
        return self._controller is not None

    @property
    def controller(self) -> SerialController | None:
        return self._controller

    def send(self, steering_us: float, throttle_us: float) -> tuple[float, float] | None:
        """Send a command; returns the pulses actually sent, or None while the link is down."""
        if self._controller is None:
            if not self._reopen():
                return None
            steering_us, throttle_us = self.neutral_pulses  # never resume on an old command
        try:
            self._controller.send(steering_us, throttle_us)
        except ControllerError as exc:
            log.error("%s; going to neutral and reconnecting", exc)
            self._drop()
            return None
        return steering_us, throttle_us

    def send_neutral(self) -> bool:
        """Best-effort neutral (stop, e-stop, faults); True if it was written."""
        return self.send(*self.neutral_pulses) is not None

    def close(self) -> None:
        if self._controller is not None:
            self._controller.close()
            self._controller = None

    def _drop(self) -> None:
        controller, self._controller = self._controller, None
        self.failures += 1
        self.attempts = 0
        try:
            controller.send(*self.neutral_pulses)  # may get through if only one write timed out
        except ControllerError:
            pass  # the port is gone: the controller's own failsafe takes over
        controller.close()
        self._next_try = self.clock() + self.backoff_s

    def _reopen(self) -> bool:
        now = self.clock()
        if now < self._next_try:
            return False
        try:
            self._controller = self._opener()
        except ControllerError as exc:
            self.attempts += 1
            delay = min(self.backoff_max_s, self.backoff_s * 2 ** self.attempts)
            self.retry_delays.append(delay)
            self._next_try = now + delay
            log.warning("reconnect attempt %d failed: %s; next try in %.1f s", self.attempts, exc, delay)
            return False
        self.reconnects += 1
        log.warning("serial port reopened after %d failed attempt(s); sending neutral first", self.attempts)
        self.attempts = 0
        return True
