"""The built-in tracks are drivable by a 1/18th car at speed.

The car (wheelbase 0.164 m, 30 degrees of steering) turns no tighter than about
0.29 m; we ask for twice that margin on the centre line, borders that do not
fold, and roads that do not overlap. Checks are written out here from first
principles rather than with the package's own geometry helpers.
"""
import math

import numpy as np
import pytest

from racekit.tracks import DEFAULT_TRACK, builtin_track_names, load_track
from racekit.tracks.geometry import find_crossing

NAMES = builtin_track_names()
MIN_RADIUS = 0.6
FAR_ALONG = 3.0  # parts of the lap further apart than this along the track ...
GAP = 0.3        # ... must be at least this far apart at their edges


def radii(p):
    """Radius of the circle through each waypoint and its neighbours (loop)."""
    a, b, c = np.roll(p, 1, axis=0), p, np.roll(p, -1, axis=0)
    ab, bc, ca = (np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1), np.linalg.norm(a - c, axis=1))
    area2 = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    with np.errstate(divide="ignore"):
        return np.where(area2 > 0, ab * bc * ca / (2 * area2), np.inf)


def curvature(t):
    """Signed curvature at each waypoint: turning angle over the local spacing."""
    d = np.diff(t.waypoints, axis=0, append=t.waypoints[:1])
    h = np.arctan2(d[:, 1], d[:, 0])
    turn = (h - np.roll(h, 1) + np.pi) % (2 * np.pi) - np.pi
    step = 0.5 * (np.linalg.norm(d, axis=1) + np.roll(np.linalg.norm(d, axis=1), 1))
    return turn / step, turn


def corners(t, min_curv=0.25):
    """(sign, total turn in radians, tightest radius) of each run of curvature above min_curv.

    Runs are found on curvature averaged over 1 m, so the small ripples a spline
    has where a straight meets an arc do not split one corner in three.
    """
    k, turn = curvature(t)
    smooth = sum(np.roll(k, i) for i in range(-2, 3)) / 5
    sign = np.where(np.abs(smooth) > min_curv, np.sign(smooth), 0).astype(int)
    start = np.flatnonzero(sign == 0)[0]  # walk the loop from a calm point so no run is split
    out, run = [], []
    for i in np.roll(np.arange(len(k)), -start):
        if run and sign[i] != sign[run[0]]:
            if sign[run[0]]:
                out.append((int(sign[run[0]]), float(np.sum(turn[run])), float(1 / np.abs(k[run]).max())))
            run = []
        run.append(i)
    if run and sign[run[0]]:
        out.append((int(sign[run[0]]), float(np.sum(turn[run])), float(1 / np.abs(k[run]).max())))
    return out


def longest_straight(t, max_curv=0.02):
    k, _ = curvature(t)
    calm = np.abs(k) < max_curv
    best = run = 0.0
    step = np.linalg.norm(np.diff(t.waypoints, axis=0, append=t.waypoints[:1]), axis=1)
    for c, ds in zip(np.concatenate([calm, calm]), np.concatenate([step, step])):
        run = run + ds if c else 0.0
        best = max(best, run)
    return min(best, t.length)


@pytest.mark.parametrize("name", NAMES)
def test_drivable(name):
    t = load_track(name)
    assert t.closed and t.source == f"builtin:{name}" and t.name == name
    step = np.linalg.norm(np.diff(t.waypoints, axis=0, append=t.waypoints[:1]), axis=1)
    assert 0.15 <= step.min() and step.max() <= 0.25
    r = radii(t.waypoints)
    assert r.min() >= MIN_RADIUS, f"radius {r.min():.3f} m at waypoint {r.argmin()}"
    assert np.all(r > t.widths / 2)  # the inner border does not fold over itself
    assert find_crossing(t.left_border, True) is None
    assert find_crossing(t.right_border, True) is None
    assert find_crossing(t.waypoints, True) is None


@pytest.mark.parametrize("name", NAMES)
def test_roads_do_not_overlap(name):
    t = load_track(name)
    p = t.waypoints
    a, b = p, np.roll(p, -1, axis=0)
    d = b - a
    seg_len = np.linalg.norm(d, axis=1)
    w = p[:, None, :] - a[None, :, :]                                   # waypoint i against segment j
    u = np.clip(np.einsum("ijk,jk->ij", w, d) / seg_len ** 2, 0.0, 1.0)
    dist = np.linalg.norm(w - u[..., None] * d[None], axis=2)
    along = np.abs(t.s[:, None] - (t.s[None, :] + u * seg_len[None, :]))
    along = np.minimum(along, t.length - along)
    need = (t.widths[:, None] + t.widths[None, :]) / 2 + GAP
    far = along > FAR_ALONG
    assert far.any()
    worst = np.where(far, dist - need, np.inf)
    i, j = np.unravel_index(np.argmin(worst), worst.shape)
    assert worst[i, j] >= 0, f"waypoint {i} is {dist[i, j]:.2f} m from segment {j}, needs {need[i, j]:.2f}"


def test_the_four_tracks():
    assert {"oval", "piccolo", "serpentine", "meadow"} <= set(NAMES)
    assert DEFAULT_TRACK == "piccolo"


def test_default_track_is_deepracer_sized_with_straights_hairpin_and_s_bends():
    t = load_track(DEFAULT_TRACK)
    assert 17.0 <= t.length <= 25.0
    assert 0.76 <= t.widths.min() and t.widths.max() <= 1.07
    assert longest_straight(t) >= 4.0
    cs = corners(t)
    hairpins = [c for c in cs if abs(c[1]) >= math.radians(150) and 0.6 <= c[2] <= 0.9]
    assert hairpins, cs
    s_bends = sum(1 for c1, c2 in zip(cs, cs[1:] + cs[:1]) if c1[0] != c2[0])
    assert s_bends >= 2, cs


def test_technical_track_is_long_with_many_corners():
    t = load_track("serpentine")
    assert t.length >= 40.0
    assert len(corners(t)) >= 10


def test_oval_and_meadow():
    oval, meadow = load_track("oval"), load_track("meadow")
    assert len(corners(oval)) == 2 and all(abs(c[1]) == pytest.approx(math.pi, abs=0.2) for c in corners(oval))
    assert meadow.widths.min() >= 1.2 and radii(meadow.waypoints).min() >= 1.0  # wide and gentle
