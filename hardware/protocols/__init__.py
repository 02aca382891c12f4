"""Byte-level encoders and decoders of the motor-controller protocols.

No I/O here: the drivers (hardware/controllers.py) write what the encoders
produce, and the software controllers (hardware/virtual.py) feed received
bytes to the decoders, exactly as a real controller's firmware parses them.
Every decoder has the same interface (see `Decoded` and `Decoder` in base.py,
re-exported here); the protocol modules import base.py, never this package.
"""
from __future__ import annotations

from racekit.hardware.protocols import maestro, mm1, racekit
from racekit.hardware.protocols.base import Decoded, Decoder


def make_decoder(name: str, **options) -> Decoder:
    """The decoder of protocol `name` ('maestro', 'mm1' or 'racekit')."""
    decoders = {"maestro": maestro.MaestroDecoder, "mm1": mm1.Mm1Decoder, "racekit": racekit.CommandDecoder}
    if name not in decoders:
        raise ValueError(f"unknown controller protocol {name!r} (known: {', '.join(sorted(decoders))})")
    return decoders[name](**options)


__all__ = ["Decoded", "Decoder", "make_decoder", "maestro", "mm1", "racekit"]
