"""RoboHAT MM1 text protocol (as DonkeyCar's RoboHAT driver speaks it).

One command per line: "steering_us, throttle_us\r", integers in microseconds,
115200 baud. A line that does not parse is dropped whole.
"""
from __future__ import annotations

from racekit.hardware.protocols.base import Decoded

BAUDRATE = 115200
MAX_LINE = 32  # longer is garbage: drop it and resynchronise at the next "\r"


def encode(steering_us: float, throttle_us: float) -> bytes:
    return f"{int(round(steering_us))}, {int(round(throttle_us))}\r".encode("ascii")


def parse_line(line: bytes) -> tuple[int, int] | None:
    try:
        parts = line.decode("ascii").strip().split(",")
        if len(parts) != 2:
            return None
        steering, throttle = int(parts[0]), int(parts[1])
    except (UnicodeDecodeError, ValueError):
        return None
    return steering, throttle


class Mm1Decoder:
    def __init__(self):
        self.bad = 0
        self._line = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[Decoded]:
        out = []
        for b in data:
            if b in (0x0D, 0x0A):  # "\r" ends a command; tolerate "\n" too
                if self._line or self._overflow:
                    parsed = None if self._overflow else parse_line(bytes(self._line))
                    if parsed is None:
                        self.bad += 1
                    else:
                        out.append(Decoded(float(parsed[0]), float(parsed[1])))
                self._line.clear()
                self._overflow = False
            elif len(self._line) < MAX_LINE:
                self._line.append(b)
            else:
                self._overflow = True
        return out

    def reply(self, command: Decoded, failsafe_was_active: bool) -> bytes:
        return b""
