"""What every protocol's decoder gives and does: `Decoded` commands, the `Decoder` interface.

A module of its own so the protocol modules (maestro, mm1, racekit) and the package that
picks among them (`make_decoder` in __init__.py) all import it, and none imports another.
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


__all__ = ["Decoded", "Decoder"]
