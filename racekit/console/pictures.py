"""Small track pictures for the console (drawn as `racekit tracks show` draws them), kept in memory."""
from __future__ import annotations

from functools import lru_cache

from racekit.sim import RACE_TYPES


@lru_cache(maxsize=64)
def track_png(track: str, max_side: int = 240) -> bytes:
    """PNG bytes of `track` from above with its direction arrow. TrackError for a track that cannot load."""
    import cv2

    from racekit.sim.texture import draw_direction_arrow, draw_track
    from racekit.sim.topdown import scaled
    from racekit.tracks import load_track

    loaded = load_track(track)
    canvas = scaled(draw_track(loaded, px_per_m=32.0), max_side=max_side)
    draw_direction_arrow(canvas, loaded)
    ok, data = cv2.imencode(".png", cv2.cvtColor(canvas.image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"track {track}: the picture could not be encoded")
    return data.tobytes()


@lru_cache(maxsize=1)
def builtin_tracks() -> list[dict]:
    """The built-in tracks for the picker: name, length, mean width, direction."""
    from racekit.tracks import DEFAULT_TRACK, builtin_track_names, load_track

    out = []
    for name in builtin_track_names():
        t = load_track(name)
        out.append({"name": name, "length": round(float(t.length), 2), "width": round(float(t.widths.mean()), 2),
                    "direction": t.direction, "default": name == DEFAULT_TRACK})
    return out


def race_types() -> list[str]:
    return list(RACE_TYPES)
