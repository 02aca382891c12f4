"""The tracks the console offers, and their small pictures (drawn as `racekit tracks show` draws them).

A track the page names is one of:
    NAME             a built-in track (racekit tracks list)
    generated:SEED   a generated track (racekit tracks generate: the same seed, the same track)
    deepracer:NAME   one of DeepRacer's public tracks, where ../shared/deepracer-tracks (or
                     $RACEKIT_DEEPRACER_TRACKS) is present: NAME.npy there
resolve() turns it into what `racekit train --track` and `racekit race --track` take.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from racekit.sim import RACE_TYPES

GENERATED = re.compile(r"generated:(\d{1,6})")
DEEPRACER = re.compile(r"deepracer:([A-Za-z0-9][A-Za-z0-9_.-]{0,80})")


@lru_cache(maxsize=256)
def track_png(track: str, max_side: int = 240) -> bytes:
    """PNG bytes of `track` (a resolved one) from above with its direction arrow. TrackError if it cannot load."""
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


def deepracer_folder() -> Path | None:
    from racekit.agent.robustness import deepracer_tracks_dir

    return deepracer_tracks_dir()


def deepracer_tracks() -> list[dict]:
    """DeepRacer's public tracks where their folder is here ([] where not): id and name, one per track (its
    _cw/_ccw copies, the same loop driven the other way, are left to the direction setting)."""
    folder = deepracer_folder()
    if folder is None:
        return []
    names = sorted(p.stem for p in folder.glob("*.npy") if not p.stem.endswith(("_cw", "_ccw")))
    return [{"id": f"deepracer:{name}", "name": name} for name in names]


def resolve(track: str) -> str:
    """What `racekit train --track` takes for a track the page names; ValueError saying what is taken."""
    if not isinstance(track, str) or not track:
        raise ValueError("track: pick one")
    if track in [t["name"] for t in builtin_tracks()] or GENERATED.fullmatch(track):
        return track
    match = DEEPRACER.fullmatch(track)
    folder = deepracer_folder()
    if match and folder is not None and (folder / f"{match.group(1)}.npy").is_file():
        return str(folder / f"{match.group(1)}.npy")
    built_in = ", ".join(t["name"] for t in builtin_tracks())
    raise ValueError(f"track: a built-in track ({built_in}), generated:SEED (a whole number up to 6 digits) or one "
                     f"of DeepRacer's public tracks, got {track!r}")


def page_id(track: str | None) -> str | None:
    """The page's name for a track a run was trained on: deepracer:NAME for a file of DeepRacer's folder."""
    folder = deepracer_folder()
    if track and folder is not None and Path(track).suffix == ".npy" and Path(track).parent == folder:
        return f"deepracer:{Path(track).stem}"
    return track


def race_types() -> list[str]:
    return list(RACE_TYPES)
