"""racekit's own framed serial protocol (layout in hardware/firmware/PROTOCOL.md).

Command, host -> controller, 8 bytes:
    0xA5 | seq | steering (uint16 LE, quarter-us) | throttle (uint16 LE, quarter-us) | CRC-16 (LE)
Ack, controller -> host, 5 bytes:
    0x5A | seq (echoed) | status | CRC-16 (LE)
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over every byte before the CRC.

This module must agree byte for byte with hardware/firmware/racekit_motor/
rk_protocol.cpp; a test feeds this module's frames to the compiled C++ parser.
"""
from __future__ import annotations

import struct

from racekit.hardware.protocols.base import Decoded

BAUDRATE = 115200
START = 0xA5
ACK_START = 0x5A
FRAME_LEN = 8
ACK_LEN = 5
STATUS_FAILSAFE = 0x01  # the controller had gone to neutral (watchdog) before this frame
MIN_QUARTER_US = 500 * 4  # frames outside 500..2500 us are refused, like a bad CRC
MAX_QUARTER_US = 2500 * 4


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc_table()


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE; crc16_ccitt(b"123456789") == 0x29B1."""
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ b) & 0xFF]
    return crc


def quarter_us(pulse_us: float) -> int:
    q = int(round(pulse_us * 4))
    if not MIN_QUARTER_US <= q <= MAX_QUARTER_US:
        raise ValueError(f"pulse {pulse_us} us is outside 500..2500 us")
    return q


def encode_command(seq: int, steering_us: float, throttle_us: float) -> bytes:
    body = struct.pack("<BBHH", START, seq & 0xFF, quarter_us(steering_us), quarter_us(throttle_us))
    return body + struct.pack("<H", crc16_ccitt(body))


def encode_ack(seq: int, status: int) -> bytes:
    body = struct.pack("<BBB", ACK_START, seq & 0xFF, status & 0xFF)
    return body + struct.pack("<H", crc16_ccitt(body))


class FrameScanner:
    """Finds fixed-length frames that begin with `start` and end with a valid CRC.

    On a bad frame it drops only the first byte and rescans the rest for the
    next start byte, so a frame that began inside garbage is still found.
    """

    def __init__(self, start: int, length: int, accept=lambda frame: True):
        self.start, self.length, self.accept = start, length, accept
        self.bad = 0
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for b in data:
            if not self._buf and b != self.start:
                continue  # between frames: skip until a start byte
            self._buf.append(b)
            if len(self._buf) < self.length:
                continue
            frame = bytes(self._buf)
            crc_ok = crc16_ccitt(frame[:-2]) == struct.unpack("<H", frame[-2:])[0]
            if crc_ok and self.accept(frame):
                frames.append(frame)
                self._buf.clear()
            else:
                self.bad += 1
                nxt = self._buf.find(self.start, 1)
                del self._buf[: nxt if nxt > 0 else len(self._buf)]
        return frames


def _pulses_in_range(frame: bytes) -> bool:
    _, _, steering, throttle = struct.unpack("<BBHH", frame[:6])
    return MIN_QUARTER_US <= steering <= MAX_QUARTER_US and MIN_QUARTER_US <= throttle <= MAX_QUARTER_US


class CommandDecoder:
    """The controller side: command frames in, acks out."""

    def __init__(self):
        self._scanner = FrameScanner(START, FRAME_LEN, _pulses_in_range)

    @property
    def bad(self) -> int:
        return self._scanner.bad

    def feed(self, data: bytes) -> list[Decoded]:
        out = []
        for frame in self._scanner.feed(data):
            _, seq, steering, throttle = struct.unpack("<BBHH", frame[:6])
            out.append(Decoded(steering / 4.0, throttle / 4.0, seq))
        return out

    def reply(self, command: Decoded, failsafe_was_active: bool) -> bytes:
        return encode_ack(command.seq or 0, STATUS_FAILSAFE if failsafe_was_active else 0)


class AckDecoder:
    """The host side: acks in -> (seq, status) pairs."""

    def __init__(self):
        self._scanner = FrameScanner(ACK_START, ACK_LEN)

    @property
    def bad(self) -> int:
        return self._scanner.bad

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        return [(frame[1], frame[2]) for frame in self._scanner.feed(data)]
