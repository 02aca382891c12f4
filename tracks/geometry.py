"""Plane geometry on polylines, numpy only.

Shared by the loaders (smoothing, borders, validation) and by tests that check
the built-in tracks. Every function takes an (N, 2) float array of points and a
`closed` flag; on closed polylines the last point joins back to the first and
the first point is not repeated at the end.
"""
from __future__ import annotations

import math

import numpy as np

# Consecutive points closer than this are treated as one point (metres).
# DeepRacer files contain exact duplicates; hand-made files may contain near ones.
EPS_LENGTH = 1e-9

# Metres between the waypoints of a smooth .track file (resampled from its spline, io.py) and of
# a generated track (generate.py). Why 0.2: the chord of a 0.2 m step on the tightest allowed
# curve (MIN_RADIUS) is 8 mm off the arc, under 1% of the road width; the count stays in the range
# of DeepRacer's own files (0.1-0.3 m apart), so reward functions that look a fixed number of
# waypoints ahead behave alike; and Track.project() costs time in proportion to the waypoint count.
SPACING = 0.2

# The tightest corner radius on a centre line (metres), the bound the built-in and the generated
# tracks meet. The car (0.164 m wheelbase, 30 degrees of steering: sim/car.py's CarSpec) turns no
# tighter than 0.164 / tan(30 deg) = 0.284 m; corners keep about twice that.
TURNING_RADIUS = 0.164 / math.tan(math.radians(30.0))
MIN_RADIUS = 0.6


def segments(points: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points of each segment: N segments on a loop, N-1 when open."""
    ends = np.roll(points, -1, axis=0)
    if not closed:
        return points[:-1], ends[:-1]
    return points, ends


def circle_radii(points: np.ndarray) -> np.ndarray:
    """Radius of the circle through each point of a loop and its two neighbours (inf on a straight)."""
    a, b, c = np.roll(points, 1, axis=0), points, np.roll(points, -1, axis=0)
    ab, bc, ca = (np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1), np.linalg.norm(a - c, axis=1))
    area2 = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    with np.errstate(divide="ignore"):
        return np.where(area2 > 1e-12, ab * bc * ca / (2 * np.maximum(area2, 1e-12)), np.inf)


def signed_area(points: np.ndarray) -> float:
    """Shoelace area, > 0 for counter-clockwise. Open polylines are closed implicitly."""
    x, y = points[:, 0], points[:, 1]
    # Subtract the centroid first: far-from-origin coordinates otherwise lose digits.
    x = x - x.mean()
    y = y - y.mean()
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def polyline_length(points: np.ndarray, closed: bool) -> float:
    a, b = segments(points, closed)
    return float(np.linalg.norm(b - a, axis=1).sum())


def _orient(ax, ay, bx, by, cx, cy):
    # Twice the signed area of triangle abc: > 0 when c is left of a->b.
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


def _within(px, py, ax, ay, bx, by):
    # p lies in the bounding box of segment ab (used only when p is collinear with ab).
    return ((np.minimum(ax, bx) <= px) & (px <= np.maximum(ax, bx))
            & (np.minimum(ay, by) <= py) & (py <= np.maximum(ay, by)))


def find_crossing(points: np.ndarray, closed: bool) -> tuple[int, int] | None:
    """First pair (i, j), i < j, of non-adjacent segments that cross or touch, else None.

    i and j are indices into `points`: segment i runs from points[i] to the next
    point. Repeated consecutive points are skipped (they are no crossing), so the
    indices always refer to the caller's array.
    """
    keep = np.ones(len(points), dtype=bool)
    step = np.linalg.norm(np.diff(points, axis=0), axis=1)
    keep[1:] = step > EPS_LENGTH
    idx = np.flatnonzero(keep)  # original index of each distinct point
    if closed and len(idx) > 1 and np.linalg.norm(points[idx[-1]] - points[idx[0]]) <= EPS_LENGTH:
        idx = idx[:-1]
    p = points[idx]
    a, b = segments(p, closed)
    k = len(a)
    if k < 3:
        return None
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    j = np.arange(k)
    # Rows in chunks keep the k x k temporaries small on long tracks.
    for lo in range(0, k, 256):
        i = np.arange(lo, min(lo + 256, k))[:, None]
        adjacent = (np.abs(i - j) <= 1)
        if closed:
            adjacent |= (np.abs(i - j) == k - 1)
        candidate = (j > i) & ~adjacent
        aix, aiy, bix, biy = ax[i], ay[i], bx[i], by[i]
        o1 = _orient(aix, aiy, bix, biy, ax, ay)
        o2 = _orient(aix, aiy, bix, biy, bx, by)
        o3 = _orient(ax, ay, bx, by, aix, aiy)
        o4 = _orient(ax, ay, bx, by, bix, biy)
        hit = (o1 * o2 < 0) & (o3 * o4 < 0)
        # Touching: an end point lying exactly on the other segment.
        hit |= (o1 == 0) & _within(ax, ay, aix, aiy, bix, biy)
        hit |= (o2 == 0) & _within(bx, by, aix, aiy, bix, biy)
        hit |= (o3 == 0) & _within(aix, aiy, ax, ay, bx, by)
        hit |= (o4 == 0) & _within(bix, biy, ax, ay, bx, by)
        hit &= candidate
        if hit.any():
            r, c = np.argwhere(hit)[0]
            return int(idx[lo + r]), int(idx[c])
    return None


def vertex_tangents(points: np.ndarray, closed: bool) -> np.ndarray:
    """Unit tangent at each point: the bisector of the incoming and outgoing segments."""
    d = np.diff(points, axis=0, append=points[:1]) if closed else np.diff(points, axis=0)
    n = np.linalg.norm(d, axis=1, keepdims=True)
    u = d / np.where(n > EPS_LENGTH, n, 1.0)
    if closed:
        t = u + np.roll(u, 1, axis=0)
    else:
        t = np.empty_like(points)
        t[0], t[-1] = u[0], u[-1]
        t[1:-1] = u[1:] + u[:-1]
    tn = np.linalg.norm(t, axis=1, keepdims=True)
    return t / np.where(tn > EPS_LENGTH, tn, 1.0)


def offset_borders(points: np.ndarray, widths: np.ndarray, closed: bool):
    """(left, right) borders at +/- width/2 along the left normal of the vertex tangent."""
    t = vertex_tangents(points, closed)
    left_normal = np.stack([-t[:, 1], t[:, 0]], axis=1)
    half = 0.5 * np.asarray(widths, dtype=float)[:, None]
    return points + half * left_normal, points - half * left_normal


def catmull_rom(ctrl: np.ndarray, closed: bool, step: float = 0.01):
    """Dense points on a centripetal Catmull-Rom spline through the control points.

    Centripetal (alpha = 0.5) rather than uniform: it cannot form cusps or loops
    inside a span, which matters for hand-placed, unevenly spaced points.
    Returns (points (M, 2), u (M,)) where u = span index + fraction, so a caller
    can map any dense point back to the control points it came from.
    Consecutive control points must be distinct.
    """
    n = len(ctrl)
    if closed:
        ext = np.concatenate([ctrl[-1:], ctrl, ctrl[:2]])
        spans = n
    else:  # mirror the end points so the end spans have a neighbour to lean on
        ext = np.concatenate([2 * ctrl[:1] - ctrl[1:2], ctrl, 2 * ctrl[-1:] - ctrl[-2:-1]])
        spans = n - 1
    knots = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ext, axis=0), axis=1) ** 0.5)])
    out_p, out_u = [], []
    for i in range(spans):
        p0, p1, p2, p3 = ext[i:i + 4]
        t0, t1, t2, t3 = knots[i:i + 4]
        m = max(4, int(np.ceil(np.linalg.norm(p2 - p1) / step)))
        f = np.arange(m) / m
        t = (t1 + f * (t2 - t1))[:, None]
        # Barry-Goldman pyramid: three linear blends, two more, then one.
        a1 = ((t1 - t) * p0 + (t - t0) * p1) / (t1 - t0)
        a2 = ((t2 - t) * p1 + (t - t1) * p2) / (t2 - t1)
        a3 = ((t3 - t) * p2 + (t - t2) * p3) / (t3 - t2)
        b1 = ((t2 - t) * a1 + (t - t0) * a2) / (t2 - t0)
        b2 = ((t3 - t) * a2 + (t - t1) * a3) / (t3 - t1)
        out_p.append(((t2 - t) * b1 + (t - t1) * b2) / (t2 - t1))
        out_u.append(i + f)
    if not closed:
        out_p.append(ctrl[-1:])
        out_u.append(np.array([float(spans)]))
    return np.concatenate(out_p), np.concatenate(out_u)


def resample(points: np.ndarray, closed: bool, spacing: float, columns=()):
    """Points evenly spaced by arc length, about `spacing` apart (exactly length/n).

    Per-point `columns` (e.g. widths) are interpolated along the same arc length.
    Returns (points, [columns...], src) where src[k] is the index of the input
    point at or just before output point k (to trace a point back to its source).
    """
    p = np.concatenate([points, points[:1]]) if closed else points
    cols = [np.concatenate([c, c[:1]]) if closed else c for c in columns]
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    total = s[-1]
    n = max(3, int(round(total / spacing)))
    target = np.arange(n) * (total / n) if closed else np.linspace(0.0, total, n + 1)
    out = np.stack([np.interp(target, s, p[:, 0]), np.interp(target, s, p[:, 1])], axis=1)
    src = np.clip(np.searchsorted(s, target, side="right") - 1, 0, len(points) - 1)
    return out, [np.interp(target, s, c) for c in cols], src
