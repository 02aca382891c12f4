"""DeepRacer route files (.npy) read unchanged.

Format (deepracer-simapp bundle/routes/): float64 array (N, 6) in metres,
columns centre x, y, inner border x, y, outer border x, y. On loops the first
row equals the last; we drop that repeat. "Inner" is the inside of the loop, so
the driver's left on counter-clockwise tracks and the right on clockwise ones.

Waypoints are kept exactly as in the file otherwise (including the odd repeated
row some files have) so that waypoint indices match DeepRacer's: reward
functions that hard-code indices for a known track keep working.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import geometry
from .track import Track, TrackError

# First and last rows closer than this (every column, metres) mean a loop.
# DeepRacer's own files repeat the row exactly; the tolerance only forgives a
# text round trip.
CLOSE_TOL = 1e-6


def load_npy(path: str | os.PathLike) -> Track:
    path = Path(path)
    where = str(path)
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise TrackError(f"{where}: no such file") from None
    except (OSError, ValueError) as e:  # not an .npy, truncated, or a pickled object array
        reason = " ".join(str(e).split())
        raise TrackError(f"{where}: not a readable .npy array ({reason})") from None
    if not isinstance(a, np.ndarray) or a.ndim != 2 or a.shape[1] != 6:
        raise TrackError(f"{where}: expected shape (N, 6), got {getattr(a, 'shape', type(a).__name__)}")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TrackError(f"{where}: expected a float array, got dtype {a.dtype}")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        what = "NaN" if np.isnan(a[row, col]) else "infinity"
        part = ("centre line", "inner border", "outer border")[col // 2]
        raise TrackError(f"{where} row {row}: {what} in {part}")

    closed = len(a) > 1 and bool(np.all(np.abs(a[0] - a[-1]) <= CLOSE_TOL))
    if closed:
        a = a[:-1]
    if len(a) < 3:
        raise TrackError(f"{where}: need at least 3 points, got {len(a)}")
    centre, inner, outer = a[:, 0:2], a[:, 2:4], a[:, 4:6]

    width = np.linalg.norm(inner - outer, axis=1)
    thin = np.flatnonzero(width <= geometry.EPS_LENGTH)
    if thin.size:
        raise TrackError(f"{where} row {thin[0]}: zero road width (inner and outer border coincide)")
    if geometry.polyline_length(centre, closed) <= geometry.EPS_LENGTH:
        raise TrackError(f"{where}: centre line has zero length")
    hit = geometry.find_crossing(centre, closed)
    if hit is not None:
        i, j = hit
        raise TrackError(f"{where}: centre line crosses itself (segment after row {i} and segment after row {j})")

    # Which side is inner? Decided from the geometry rather than from the sign of
    # the area: the two agree on every loop, and an open straight has no area.
    tangent = geometry.vertex_tangents(centre, closed)
    rel = inner - centre
    inner_left = float(np.sum(tangent[:, 0] * rel[:, 1] - tangent[:, 1] * rel[:, 0])) > 0.0
    left, right = (inner, outer) if inner_left else (outer, inner)

    area = geometry.signed_area(centre)
    length = geometry.polyline_length(centre, closed)
    if abs(area) > 1e-9 * length * length:
        direction = "ccw" if area > 0 else "cw"
    else:  # a straight: name the direction the DeepRacer way, from where "inner" is
        direction = "ccw" if inner_left else "cw"
    return Track(centre, left, right, name=path.stem, source=where, closed=closed,
                 obstacles=(), direction=direction)
