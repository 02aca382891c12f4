"""Turning a TRACK argument (built-in name or path) into a Track, with a one-line error."""
from __future__ import annotations

from racekit.cli import UserError


def track_argument(value: str, reverse: bool = False):
    from racekit.tracks import TrackError, load_track

    try:
        return load_track(value, reverse=reverse)
    except TrackError as exc:
        raise UserError(str(exc)) from None
