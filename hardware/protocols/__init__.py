"""Byte-level encoders and decoders of the motor-controller protocols.

No I/O here: the drivers (hardware/controllers.py) write what the encoders
produce, and the software controllers (hardware/virtual.py) feed received
bytes to the decoders, exactly as a real controller's firmware parses them.
Every decoder has the same interface (see `Decoded` and `Decoder`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Decoded:
    """One valid command: new pulses (None = this command leaves that output alone)."""
    steering_us: float | None
    throttle_us: float | None
    seq: int | None = None  # racekit frames carry a sequence number to acknowledge


class Decoder(Protocol):
    bad: int  # malformed or bad-CRC commands rejected so far

    def feed(self, data: bytes) -> list[Decoded]:
        """Parse received bytes; return the valid commands they completed."""

    def reply(self, command: Decoded, failsafe_was_active: bool) -> bytes:
        """Bytes the controller sends back for a command (b"" when the protocol has no acks)."""


def make_decoder(name: str, **options) -> Decoder:
    """The decoder of protocol `name` ('maestro', 'mm1' or 'racekit')."""
    from racekit.hardware.protocols import maestro, mm1, racekit

    decoders = {"maestro": maestro.MaestroDecoder, "mm1": mm1.Mm1Decoder, "racekit": racekit.CommandDecoder}
    if name not in decoders:
        raise ValueError(f"unknown controller protocol {name!r} (known: {', '.join(sorted(decoders))})")
    return decoders[name](**options)
