"""racekit tracks: track files and the Track geometry (numpy and the standard library only)."""
from .io import DEFAULT_TRACK, builtin_track_names, load_track
from .track import Track, TrackError

__all__ = ["DEFAULT_TRACK", "Track", "TrackError", "builtin_track_names", "load_track"]
