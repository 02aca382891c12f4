"""Loading tracks: built-in names, our .track text files, DeepRacer .npy files.

The .track format
-----------------
A UTF-8 text file, one item per line, `#` starts a comment. `key: value` lines
set options; lines of two or three numbers are centre-line points `x y [width]`
in metres, in driving order, the first one on the start line; `obstacle: x y
size` lines place a square box of edge `size` metres centred at (x, y).
Keys (each at most once, except obstacle):

    name: piccolo     track name (default: the file name without .track)
    width: 0.9        road width in metres, for points without a third column
                      (on smooth tracks widths blend linearly between points)
    direction: ccw    optional check: ccw or cw; the points must run that way
    smooth: true      true: the points are control points of a Catmull-Rom
                      spline, resampled every ~0.2 m; false (default): the
                      points are the waypoints themselves
    closed: true      true (default): a loop, last point joins the first
                      (do not repeat the first point; a repeat is dropped)
    obstacle: x y s   a box on the road (any number of these)

Example, a 14 x 4 m stadium (two 10 m straights, two half circles of
radius 2 m) designed with 14 points. The spline passes through every point;
a second point near each end of a straight keeps the straight straight.

    name: lozenge
    width: 1.0
    direction: ccw
    smooth: true
    0 0              # the start line
    1 0
    9 0
    10 0
    11.414 0.586     # half circle around (10, 2)
    12 2   1.2       # wider at the apex
    11.414 3.414
    10 4
    9 4
    1 4
    0 4
    -1.414 3.414     # half circle around (0, 2)
    -2 2
    -1.414 0.586
    obstacle: 5 0.2 0.25

Why 0.2 m between resampled waypoints: see geometry.SPACING (the generated
tracks use the same spacing).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from . import geometry
from .generate import generated_track
from .geometry import SPACING
from .npy import load_npy
from .track import Track, TrackError

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
DEFAULT_TRACK = "piccolo"

_KEYS = ("name", "width", "direction", "smooth", "closed", "obstacle")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def builtin_track_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.track"))


def load_track(name_or_path: str | os.PathLike, reverse: bool = False) -> Track:
    """A built-in track by name ("oval"), a generated one ("generated:7"), or a .track / .npy file by path.

    A string starting "generated:" names a generated track (tracks/generate.py);
    a plain string without a suffix or a slash is a built-in name; anything else
    (a Path object, "x.track", "dir/file.npy") is a file path.
    """
    if isinstance(name_or_path, str) and name_or_path.startswith("generated:"):
        track = generated_track(name_or_path)
    elif isinstance(name_or_path, str) and not Path(name_or_path).suffix and \
            "/" not in name_or_path and os.sep not in name_or_path:
        names = builtin_track_names()
        if name_or_path not in names:
            raise TrackError(f"unknown track {name_or_path!r}: built-in tracks are {', '.join(names)}; "
                             "or give generated:SEED, or the path of a .track or .npy file")
        track = _load_track_file(BUILTIN_DIR / f"{name_or_path}.track", source=f"builtin:{name_or_path}")
    else:
        path = Path(name_or_path)
        suffix = path.suffix.lower()
        if suffix == ".npy":
            track = load_npy(path)
        elif suffix == ".track":
            track = _load_track_file(path, source=str(path))
        else:
            raise TrackError(f"{path}: unknown track file type {path.suffix or '(none)'!r} "
                             "(expected .track or .npy)")
    return track.reverse() if reverse else track


class _Reader:
    """Parses one .track file; every error names the file and line."""

    def __init__(self, path: Path):
        self.where = str(path)
        self.opts: dict[str, tuple[object, int]] = {}  # key -> (value, line number)
        self.points: list[tuple[float, float]] = []
        self.point_widths: list[float | None] = []
        self.point_lines: list[int] = []
        self.obstacles: list[tuple[float, float, float]] = []

    def error(self, msg: str, line: int | None = None) -> TrackError:
        at = f"{self.where} line {line}" if line else self.where
        return TrackError(f"{at}: {msg}")

    def number(self, tok: str, line: int, what: str) -> float:
        try:
            v = float(tok)
        except ValueError:
            raise self.error(f"cannot read {tok!r} as a number", line) from None
        if math.isnan(v):
            raise self.error(f"NaN in {what}", line)
        if math.isinf(v):
            raise self.error(f"infinity in {what}", line)
        return v

    def positive(self, tok: str, line: int, what: str) -> float:
        v = self.number(tok, line, what)
        if v <= 0:
            raise self.error(f"{what} must be > 0, got {tok}", line)
        return v

    def parse(self, text: str) -> None:
        for no, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if ":" in line:
                key, value = (part.strip() for part in line.split(":", 1))
                self.option(key.lower(), value, no)
                continue
            toks = line.split()
            if len(toks) not in (2, 3):
                raise self.error(f"expected 'x y' or 'x y width', got {line!r}", no)
            self.points.append((self.number(toks[0], no, "centre line"),
                                self.number(toks[1], no, "centre line")))
            self.point_widths.append(self.positive(toks[2], no, "width") if len(toks) == 3 else None)
            self.point_lines.append(no)

    def option(self, key: str, value: str, no: int) -> None:
        if key not in _KEYS:
            raise self.error(f"unknown key {key!r} (known: {', '.join(_KEYS)})", no)
        if key == "obstacle":
            toks = value.split()
            if len(toks) != 3:
                raise self.error(f"expected 'obstacle: x y size', got {value!r}", no)
            x, y = (self.number(t, no, "obstacle") for t in toks[:2])
            self.obstacles.append((x, y, self.positive(toks[2], no, "obstacle size")))
            return
        if key in self.opts:
            raise self.error(f"{key!r} given twice (first on line {self.opts[key][1]})", no)
        if key == "width":
            parsed: object = self.positive(value, no, "width")
        elif key in ("smooth", "closed"):
            if value.lower() not in _BOOLS:
                raise self.error(f"{key} must be true or false, got {value!r}", no)
            parsed = _BOOLS[value.lower()]
        elif key == "direction":
            if value.lower() not in ("ccw", "cw"):
                raise self.error(f"direction must be ccw or cw, got {value!r}", no)
            parsed = value.lower()
        else:
            if not value:
                raise self.error("empty name", no)
            parsed = value
        self.opts[key] = (parsed, no)

    def opt(self, key: str, default=None):
        return self.opts[key][0] if key in self.opts else default


def _load_track_file(path: Path, source: str) -> Track:
    r = _Reader(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise r.error("no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise r.error(f"cannot read: {' '.join(str(e).split())}") from None
    r.parse(text)
    closed = bool(r.opt("closed", True))
    smooth = bool(r.opt("smooth", False))

    default_w = r.opt("width")
    widths = []
    for w, no in zip(r.point_widths, r.point_lines):
        if w is None and default_w is None:
            raise r.error("no width for this point: add 'width:' to the header or a third column", no)
        widths.append(w if w is not None else default_w)
    pts, lines, widths = np.array(r.points, dtype=float).reshape(-1, 2), list(r.point_lines), np.array(widths)
    if closed and len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
        pts, widths, lines = pts[:-1], widths[:-1], lines[:-1]  # the habit of repeating the start
    if len(pts) < 3:
        raise r.error(f"need at least 3 points, got {len(pts)}")
    # A repeated point would give the spline a zero-length span (and a corner no side).
    repeats = np.flatnonzero(np.linalg.norm(np.diff(pts, axis=0), axis=1) <= geometry.EPS_LENGTH)
    if repeats.size:
        raise r.error("point repeats the previous point", lines[repeats[0] + 1])

    if smooth:
        dense, u = geometry.catmull_rom(pts, closed)
        # Widths blend linearly between control points (a spline could overshoot to <= 0).
        knots = np.arange(len(pts) + 1) if closed else np.arange(len(pts))
        wk = np.append(widths, widths[0]) if closed else widths
        wp, (w,), src = geometry.resample(dense, closed, SPACING, [np.interp(u, knots, wk)])
        ctrl_of = np.floor(u[src]).astype(int) % len(pts)  # control span of each waypoint
    else:
        wp, w, ctrl_of = pts, widths, np.arange(len(pts))

    hit = geometry.find_crossing(wp, closed)
    if hit is not None:
        i, j = (int(ctrl_of[k]) for k in hit)
        # Name the control points (smooth) or the points (not smooth) that start each crossing piece.
        raise r.error(f"centre line crosses itself: the segment after line {lines[i]} "
                      f"meets the segment after line {lines[j]}", lines[i])
    want = r.opt("direction")
    got = "ccw" if geometry.signed_area(wp) > 0 else "cw"
    if want is not None and want != got:
        raise r.error(f"'direction: {want}' but the points run {got}", r.opts["direction"][1])
    left, right = geometry.offset_borders(wp, w, closed)
    return Track(wp, left, right, name=str(r.opt("name", path.stem)), source=source,
                 closed=closed, obstacles=r.obstacles, direction=got)
