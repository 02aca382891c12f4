"""The Track: a centre line with borders and the queries the simulator needs.

All along-track quantities are distances `s` in metres from waypoint 0 along the
centre polyline. The polyline is the track: projection, point_at and heading_at
all use the same straight segments between waypoints, so they agree exactly
(heading_at is the direction of the segment, it jumps at waypoints by the turn
angle there).
"""
from __future__ import annotations

import math

import numpy as np

from . import geometry


class TrackError(ValueError):
    """A track that cannot be loaded or built. str() is one line naming the file and the fault."""


def _as_xy(xy) -> tuple[np.ndarray, bool]:
    a = np.asarray(xy, dtype=float)
    if a.shape == (2,):
        return a[None, :], True
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"expected a point (2,) or points (M, 2), got shape {a.shape}")
    return a, False


class Track:
    """A drivable road: waypoints in driving order, borders, widths.

    Build one with load_track(); the constructor takes arrays already in
    driving order with left/right meant for that order, and works out widths,
    s, length and (unless given) direction. The public arrays are read-only.
    """

    def __init__(self, waypoints, left_border, right_border, *, name: str, source: str,
                 closed: bool = True, reversed: bool = False, obstacles=(), direction: str | None = None):
        self.name = name
        self.source = source
        self.closed = bool(closed)
        self.reversed = bool(reversed)
        self.waypoints = np.array(waypoints, dtype=float)  # copies: we freeze them below
        self.left_border = np.array(left_border, dtype=float)
        self.right_border = np.array(right_border, dtype=float)
        n = len(self.waypoints)
        for arr in (self.waypoints, self.left_border, self.right_border):
            if arr.shape != (n, 2):
                raise TrackError(f"{source}: waypoints and borders must all be ({n}, 2), got {arr.shape}")
        if n < 3:
            raise TrackError(f"{source}: need at least 3 points, got {n}")
        self.obstacles = [(float(x), float(y), float(size)) for x, y, size in obstacles]
        self.widths = np.linalg.norm(self.left_border - self.right_border, axis=1)

        a, b = geometry.segments(self.waypoints, self.closed)
        seg_len = np.linalg.norm(b - a, axis=1)
        self.s = np.concatenate([[0.0], np.cumsum(seg_len)[: n - 1]])
        self.length = float(seg_len.sum())
        if not self.length > 0.0:
            raise TrackError(f"{source}: centre line has zero length")
        if direction is None:
            direction = "ccw" if geometry.signed_area(self.waypoints) > 0.0 else "cw"
        if direction not in ("ccw", "cw"):
            raise ValueError(f"direction must be 'ccw' or 'cw', got {direction!r}")
        self.direction = direction
        # Read-only: the cached segment data below would silently go stale otherwise.
        for arr in (self.waypoints, self.left_border, self.right_border, self.widths, self.s):
            arr.flags.writeable = False

        # Projection works on the segments of non-zero length only (DeepRacer files
        # repeat a waypoint now and then; a zero-length segment has no direction).
        good = seg_len > geometry.EPS_LENGTH
        d = (b - a)[good]
        self._ax, self._ay = a[good, 0].copy(), a[good, 1].copy()
        self._dx, self._dy = d[:, 0].copy(), d[:, 1].copy()
        self._seg_len = seg_len[good]
        self._inv_len2 = 1.0 / self._seg_len ** 2
        self._seg_s = self.s[: len(seg_len)][good]
        self._seg_half = 0.5 * self._seg_len
        self._seg_mid = self._seg_s + self._seg_half
        # Unit tangents at both ends of each segment (bisectors with the neighbouring
        # segments): when the closest point is a corner, the side is decided by the
        # corner's tangent, since a point straight ahead of a segment's end lies on
        # that segment's own line and has no side relative to it.
        u = d / self._seg_len[:, None]
        if self.closed:
            u_prev, u_next = np.roll(u, 1, axis=0), np.roll(u, -1, axis=0)
        else:
            u_prev = np.vstack([u[:1], u[:-1]])
            u_next = np.vstack([u[1:], u[-1:]])
        self._tan_start = self._unit_or(u_prev + u, u)
        self._tan_end = self._unit_or(u + u_next, u)
        h = np.arctan2(self._dy, self._dx)
        self._seg_heading = np.where(h <= -math.pi, math.pi, h)  # (-pi, pi], as promised
        # Distance from the centre line to each border: not always width / 2 (some DeepRacer
        # files have their centre line up to 0.18 m off the middle), so "inside" uses these.
        left_half = np.linalg.norm(self.left_border - self.waypoints, axis=1)
        right_half = np.linalg.norm(self.right_border - self.waypoints, axis=1)
        # Knots for np.interp of point/width along s; loops get the closing knot.
        if self.closed:
            self._knot_s = np.append(self.s, self.length)
            self._knot_xy = np.vstack([self.waypoints, self.waypoints[:1]])
            self._knot_w = np.append(self.widths, self.widths[0])
            self._knot_left = np.append(left_half, left_half[0])
            self._knot_right = np.append(right_half, right_half[0])
        else:
            self._knot_s, self._knot_xy, self._knot_w = self.s, self.waypoints, self.widths
            self._knot_left, self._knot_right = left_half, right_half

    def __repr__(self) -> str:
        kind = "loop" if self.closed else "open"
        rev = ", reversed" if self.reversed else ""
        return (f"Track({self.name!r}, {kind}, {self.direction}{rev}, {len(self.waypoints)} waypoints, "
                f"{self.length:.2f} m, width {self.widths.min():.3f}-{self.widths.max():.3f} m)")

    # -- along-track helpers ------------------------------------------------------
    def _wrap(self, s):
        """s into [0, length) on loops, clipped to [0, length] on open tracks."""
        if isinstance(s, (float, int)):  # plain numbers: math is several times faster than numpy
            s = float(s)
            if self.closed:
                s %= self.length
                return np.float64(0.0 if s >= self.length else s)
            return np.float64(min(max(s, 0.0), self.length))
        s = np.asarray(s, dtype=float)
        if self.closed:
            s = np.mod(s, self.length)
            # mod of a value a hair below a multiple of length can round up to length
            return np.where(s >= self.length, 0.0, s)
        return np.clip(s, 0.0, self.length)

    def _segment_at(self, s: np.ndarray) -> np.ndarray:
        """Index (into the non-zero segments) of the segment containing wrapped s."""
        k = np.searchsorted(self._seg_s, s, side="right") - 1
        return np.clip(k, 0, len(self._seg_s) - 1)

    @staticmethod
    def _unit_or(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return np.where(n > 1e-12, v / np.where(n > 1e-12, n, 1.0), fallback)

    @staticmethod
    def _out(a: np.ndarray, scalar: bool):
        return float(a) if scalar else a

    # -- queries --------------------------------------------------------------------
    def project(self, xy, near_s: float | None = None, window: float = 3.0):
        """(s, offset) of the closest point of the centre polyline; offset > 0 = left.

        near_s (a float, or one per point) restricts the search to segments within
        `window` metres of near_s along the track, so a car next to a hairpin or a
        crossing is not projected onto the other leg.
        """
        pts, scalar = _as_xy(xy)
        if scalar:  # the per-step case: 1-D arrays, about half the time of the 2-D path
            wx = pts[0, 0] - self._ax
            wy = pts[0, 1] - self._ay
        else:
            wx = pts[:, :1] - self._ax
            wy = pts[:, 1:] - self._ay
        # Closest point of every segment at once: clamp the foot of the perpendicular.
        t = (wx * self._dx + wy * self._dy) * self._inv_len2
        np.clip(t, 0.0, 1.0, out=t)
        ex = wx - t * self._dx
        ey = wy - t * self._dy
        d2 = ex * ex + ey * ey
        if near_s is not None:
            if scalar:
                if np.size(near_s) != 1:
                    raise ValueError("near_s must be a single value for a single point")
                near_s = float(np.reshape(near_s, -1)[0])
            d2 = np.where(self._in_window(near_s, window), d2, np.inf)
        k = np.argmin(d2, axis=-1)
        if scalar:
            k = int(k)
            s = float(self._seg_s[k] + t[k] * self._seg_len[k])
            if self.closed and s >= self.length:
                s -= self.length
            tk = t[k]
            tx, ty = (self._tan_start[k] if tk <= 0.0 else self._tan_end[k] if tk >= 1.0
                      else (self._dx[k], self._dy[k]))
            cross = tx * ey[k] - ty * ex[k]
            return s, math.copysign(math.sqrt(d2[k]), cross)
        rows = np.arange(len(pts))
        s = self._seg_s[k] + t[rows, k] * self._seg_len[k]
        if self.closed:
            s = np.where(s >= self.length, s - self.length, s)
        tk = t[rows, k][:, None]
        tan = np.where(tk <= 0.0, self._tan_start[k],
                       np.where(tk >= 1.0, self._tan_end[k], np.stack([self._dx[k], self._dy[k]], axis=1)))
        cross = tan[:, 0] * ey[rows, k] - tan[:, 1] * ex[rows, k]
        return s, np.copysign(np.sqrt(d2[rows, k]), cross)

    def _in_window(self, near_s, window: float) -> np.ndarray:
        """Mask (segments,) or (M, segments) of segments within `window` m of near_s along the track."""
        if np.ndim(near_s) == 0:
            ns = self._wrap(float(near_s))
        else:
            ns = self._wrap(np.asarray(near_s, dtype=float)).reshape(-1, 1)
        gap = np.abs(ns - self._seg_mid)
        if self.closed:
            gap = np.minimum(gap, self.length - gap)
        # The segment holding near_s always passes (its gap is at most its half length).
        return gap <= window + self._seg_half

    def point_at(self, s) -> np.ndarray:
        """Centre-line point at along-track distance s; (2,) or (M, 2)."""
        w = self._wrap(s)
        p = np.stack([np.interp(w, self._knot_s, self._knot_xy[:, 0]),
                      np.interp(w, self._knot_s, self._knot_xy[:, 1])], axis=-1)
        return p

    def heading_at(self, s):
        """Direction of travel (radians, atan2 convention) of the centre-line segment at s."""
        w = self._wrap(s)
        h = self._seg_heading[self._segment_at(w)]
        return self._out(h, w.ndim == 0)

    def width_at(self, s):
        """Road width at s, linear between waypoints."""
        w = self._wrap(s)
        return self._out(np.interp(w, self._knot_s, self._knot_w), w.ndim == 0)

    def closest_waypoints(self, s):
        """[prev, next] waypoint indices bracketing s: s[prev] <= s, next = prev + 1 (wrapping)."""
        w = self._wrap(s)
        n = len(self.waypoints)
        prev = np.searchsorted(self.s, w, side="right") - 1
        if self.closed:
            nxt = (prev + 1) % n
        else:  # the last waypoint ends the track: bracket s = length with the last segment
            prev = np.clip(prev, 0, n - 2)
            nxt = prev + 1
        if w.ndim == 0:
            return int(prev), int(nxt)
        return prev, nxt

    def is_inside(self, xy, near_s: float | None = None, window: float = 3.0):
        """True where the point lies between the borders: offset within the local distance to the
        left border (offset > 0) or to the right border (offset < 0)."""
        s, offset = self.project(xy, near_s=near_s, window=window)
        w = self._wrap(s)
        limit = np.where(np.asarray(offset) >= 0, np.interp(w, self._knot_s, self._knot_left),
                         np.interp(w, self._knot_s, self._knot_right))
        inside = np.abs(offset) <= limit
        return bool(inside) if np.ndim(inside) == 0 else inside

    def start_pose(self, fraction: float = 0.0) -> tuple[float, float, float]:
        """(x, y, yaw) on the centre line at fraction * length, facing the driving direction."""
        s = float(fraction) * self.length
        x, y = self.point_at(s)
        return float(x), float(y), float(self.heading_at(s))

    def reverse(self) -> "Track":
        """The same road driven the other way.

        On loops waypoint 0 stays first (DeepRacer's reverse reads the file's rows
        backwards, and its first row equals its last), so the start line does not move.
        """
        order = np.arange(len(self.waypoints))[::-1]
        if self.closed:
            order = np.roll(order, 1)
        flipped = {"ccw": "cw", "cw": "ccw"}[self.direction]
        return Track(self.waypoints[order], self.right_border[order], self.left_border[order],
                     name=self.name, source=self.source, closed=self.closed,
                     reversed=not self.reversed, obstacles=self.obstacles, direction=flipped)

    def bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the centre line and both borders, grown by margin."""
        allp = np.vstack([self.waypoints, self.left_border, self.right_border])
        lo, hi = allp.min(axis=0) - margin, allp.max(axis=0) + margin
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
