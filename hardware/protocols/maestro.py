"""Pololu Maestro compact protocol: Set Target.

Command: 0x84, channel, target & 0x7F, (target >> 7) & 0x7F, where target is
the pulse width in quarter-microseconds. Data bytes have the high bit clear,
so a byte with the high bit set always starts a new command: that is how a
Maestro resynchronises, and how this decoder does.
"""
from __future__ import annotations

from racekit.hardware.protocols.base import Decoded

SET_TARGET = 0x84
MAX_TARGET = 0x3FFF  # 14 bits in two 7-bit data bytes


def encode_set_target(channel: int, pulse_us: float) -> bytes:
    """The 4 bytes that set `channel` to `pulse_us` microseconds."""
    if not 0 <= channel <= 23:
        raise ValueError(f"Maestro channel must be 0..23, got {channel}")
    target = int(round(pulse_us * 4))
    if not 0 <= target <= MAX_TARGET:
        raise ValueError(f"pulse {pulse_us} us does not fit a Maestro target")
    return bytes((SET_TARGET, channel, target & 0x7F, (target >> 7) & 0x7F))


class MaestroDecoder:
    """Parses Set Target commands for the steering and throttle channels."""

    def __init__(self, steering_channel: int = 0, throttle_channel: int = 1):
        self.steering_channel = steering_channel
        self.throttle_channel = throttle_channel
        self.bad = 0
        self._cmd: list[int] = []

    def feed(self, data: bytes) -> list[Decoded]:
        out = []
        for b in data:
            if b & 0x80:
                if self._cmd:
                    self.bad += 1  # a command cut short by a new one
                self._cmd = [b] if b == SET_TARGET else []
                if b != SET_TARGET:
                    self.bad += 1  # another Maestro command: not used by racekit
                continue
            if not self._cmd:
                continue  # stray data byte: wait for the next command byte
            self._cmd.append(b)
            if len(self._cmd) == 4:
                _, channel, low, high = self._cmd
                self._cmd = []
                target = low | (high << 7)
                if target == 0:
                    continue  # target 0 = "stop pulses" on a Maestro; racekit never sends it
                us = target / 4.0
                if channel == self.steering_channel:
                    out.append(Decoded(us, None))
                elif channel == self.throttle_channel:
                    out.append(Decoded(None, us))
        return out

    def reply(self, command: Decoded, failsafe_was_active: bool) -> bytes:
        return b""  # Set Target has no response
