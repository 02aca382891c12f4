"""racekit tracks: track files, generated tracks and the Track geometry (numpy and the standard library only)."""
from .generate import generate_track
from .io import DEFAULT_TRACK, builtin_track_names, load_track
from .track import Track, TrackError

__all__ = ["DEFAULT_TRACK", "Track", "TrackError", "builtin_track_names", "generate_track", "load_track"]
