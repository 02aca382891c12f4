"""Track geometry on small hand-made tracks whose answers can be worked out on paper."""
import math

import numpy as np
import pytest

from racekit.tracks import load_track

PI = math.pi


def write_track(tmp_path, body: str, name: str = "t.track"):
    path = tmp_path / name
    path.write_text(body)
    return load_track(path)


@pytest.fixture
def square(tmp_path):
    """4 x 4 m square driven counter-clockwise from (0, 0); widths 1.0, 1.2, 1.4, 1.6 at the corners."""
    return write_track(tmp_path, "name: square\n0 0 1.0\n4 0 1.2\n4 4 1.4\n0 4 1.6\n")


@pytest.fixture
def even_square(tmp_path):
    """The same square, 1 m wide everywhere."""
    return write_track(tmp_path, "width: 1.0\n0 0\n4 0\n4 4\n0 4\n")


@pytest.fixture
def thin_loop(tmp_path):
    """A 10 x 1 m rectangle sampled every 0.5 m: two legs 1 m apart, like a hairpin's.

    s runs 0..10 along the bottom (east), 10..11 up the right end, 11..21 along
    the top (west), 21..22 down the left end.
    """
    def run(a, b, n):
        return [a + (b - a) * k / n for k in range(n)]
    pts = [(x, 0.0) for x in run(0, 10, 20)] + [(10.0, y) for y in run(0, 1, 2)] + \
          [(x, 1.0) for x in run(10, 0, 20)] + [(0.0, y) for y in run(1, 0, 2)]
    body = "width: 0.4\n" + "".join(f"{x} {y}\n" for x, y in pts)
    return write_track(tmp_path, body)


def test_square_basics(square):
    assert square.name == "square"
    assert square.closed and not square.reversed
    assert square.direction == "ccw"
    assert square.length == pytest.approx(16.0)
    np.testing.assert_allclose(square.s, [0, 4, 8, 12])
    np.testing.assert_allclose(square.widths, [1.0, 1.2, 1.4, 1.6])
    assert square.waypoints.shape == (4, 2)  # first point not repeated
    assert square.obstacles == []


@pytest.mark.parametrize("xy, s, offset", [
    ((2.0, 0.3), 2.0, 0.3),      # bottom, heading +x: +y is left
    ((2.0, -0.2), 2.0, -0.2),
    ((4.3, 1.0), 5.0, -0.3),     # right side, heading +y: +x is right
    ((1.0, 3.9), 11.0, 0.1),     # top, heading -x: -y is left
    ((-0.2, 0.5), 15.5, -0.2),   # left side, heading -y, just before the seam
    ((0.0, 0.05), 15.95, 0.0),   # on the closing segment
    ((0.5, -0.1), 0.5, -0.1),    # just after the seam
    ((-0.3, -0.4), 0.0, -0.5),   # outside the corner at the seam: s wraps to 0, not 16
    # Straight ahead of a segment's end, outside a corner: the point is on that
    # segment's line, yet it is right of the road.
    ((4.3, 0.0), 4.0, -0.3),
    ((4.0, -0.3), 4.0, -0.3),
    ((-0.3, 0.0), 0.0, -0.3),
    ((0.0, -0.3), 0.0, -0.3),
])
def test_project_known_points(square, xy, s, offset):
    got_s, got_off = square.project(np.array(xy))
    assert isinstance(got_s, float) and isinstance(got_off, float)
    assert got_s == pytest.approx(s, abs=1e-12)
    assert got_off == pytest.approx(offset, abs=1e-12)
    assert 0.0 <= got_s < square.length


def test_project_many_points_matches_one_by_one(square):
    pts = np.random.default_rng(1).uniform(-1, 5, size=(50, 2))
    s, off = square.project(pts)
    assert s.shape == off.shape == (50,)
    for p, si, oi in zip(pts, s, off):
        assert (si, oi) == pytest.approx(square.project(p), abs=1e-12)


@pytest.mark.parametrize("s, bracket", [
    (0.0, (0, 1)), (2.0, (0, 1)), (4.0, (1, 2)), (7.99, (1, 2)),
    (13.0, (3, 0)),   # closing segment wraps to waypoint 0
    (16.0, (0, 1)), (-1.0, (3, 0)), (33.0, (0, 1)),
])
def test_closest_waypoints(square, s, bracket):
    assert square.closest_waypoints(s) == bracket


def test_width_at_interpolates_including_closing_segment(square):
    assert square.width_at(0.0) == pytest.approx(1.0)
    assert square.width_at(2.0) == pytest.approx(1.1)
    assert square.width_at(9.0) == pytest.approx(1.45)
    assert square.width_at(14.0) == pytest.approx(1.3)  # halfway from 1.6 back to 1.0
    np.testing.assert_allclose(square.width_at(np.array([1.0, 17.0])), [1.05, 1.05])


def test_heading_and_point_at(square):
    assert square.heading_at(2.0) == pytest.approx(0.0)
    assert square.heading_at(6.0) == pytest.approx(PI / 2)
    assert square.heading_at(10.0) == pytest.approx(PI)  # (-pi, pi]: +pi, never -pi
    assert square.heading_at(14.0) == pytest.approx(-PI / 2)
    np.testing.assert_allclose(square.point_at(6.0), [4.0, 2.0])
    np.testing.assert_allclose(square.point_at(14.0), [0.0, 2.0])
    np.testing.assert_allclose(square.point_at(-2.0), [0.0, 2.0])  # wraps
    np.testing.assert_allclose(square.point_at(np.array([1.0, 9.0])), [[1.0, 0.0], [3.0, 4.0]])


def test_point_at_and_project_round_trip(square):
    s = np.linspace(0.05, 15.95, 37)
    got, off = square.project(square.point_at(s))
    np.testing.assert_allclose(got, s, atol=1e-12)
    np.testing.assert_allclose(off, 0.0, atol=1e-12)


def test_is_inside(square):
    # width at s = 2 is 1.1, so the road is 0.55 m either side
    assert square.is_inside((2.0, 0.54)) is True
    assert square.is_inside((2.0, 0.56)) is False
    assert square.is_inside((2.0, -0.54)) is True
    assert square.is_inside((2.0, -0.56)) is False
    np.testing.assert_array_equal(square.is_inside(np.array([[2, 0], [2, 2], [4.2, 2]])), [True, False, True])


def test_start_pose(square):
    assert square.start_pose() == pytest.approx((0.0, 0.0, 0.0))
    assert square.start_pose(0.25) == pytest.approx((4.0, 0.0, PI / 2))
    assert square.start_pose(0.5) == pytest.approx((4.0, 4.0, PI))
    assert square.start_pose(0.6) == pytest.approx((2.4, 4.0, PI))


def test_reverse_flips_offsets_and_headings(square):
    rev = square.reverse()
    assert rev.reversed and rev.direction == "cw" and rev.length == pytest.approx(square.length)
    # waypoint 0 stays first, the rest run backwards; borders swap sides
    np.testing.assert_allclose(rev.waypoints, square.waypoints[[0, 3, 2, 1]])
    np.testing.assert_allclose(rev.left_border, square.right_border[[0, 3, 2, 1]])
    np.testing.assert_allclose(rev.widths, [1.0, 1.6, 1.4, 1.2])
    assert rev.project((2.0, 0.3)) == pytest.approx((14.0, -0.3))
    pts = np.random.default_rng(2).uniform(-0.4, 4.4, size=(200, 2))
    s, off = square.project(pts)
    rs, roff = rev.project(pts)
    np.testing.assert_allclose(roff, -off, atol=1e-12)
    gap = (rs - (16.0 - s)) % 16.0  # reversed s = 16 - s, modulo the lap
    np.testing.assert_allclose(np.minimum(gap, 16.0 - gap), 0.0, atol=1e-9)
    away = np.abs(s - np.round(s / 4) * 4) > 1e-6  # heading jumps at the corners
    dh = rev.heading_at(rs[away]) - square.heading_at(s[away])
    np.testing.assert_allclose(np.cos(dh), -1.0, atol=1e-12)
    assert rev.start_pose(0.0) == pytest.approx((0.0, 0.0, PI / 2))
    back = rev.reverse()
    assert not back.reversed and back.direction == "ccw"
    np.testing.assert_allclose(back.waypoints, square.waypoints)
    np.testing.assert_allclose(back.left_border, square.left_border)


def test_borders_and_bounds(even_square):
    t = even_square
    np.testing.assert_allclose(t.widths, 1.0)
    # the left border is inside this ccw square, the right one outside
    np.testing.assert_allclose(t.left_border[0], [0.5 / math.sqrt(2)] * 2)
    np.testing.assert_allclose(t.right_border[0], [-0.5 / math.sqrt(2)] * 2)
    assert t.bounds() == pytest.approx((-0.5 / math.sqrt(2), -0.5 / math.sqrt(2),
                                        4 + 0.5 / math.sqrt(2), 4 + 0.5 / math.sqrt(2)))
    assert t.bounds(1.0)[0] == pytest.approx(-1.0 - 0.5 / math.sqrt(2))


def test_near_s_picks_the_right_leg(thin_loop):
    t = thin_loop
    assert t.length == pytest.approx(22.0)
    p = (1.0, 0.6)  # 0.6 m above the bottom leg, 0.4 m below the top one
    assert t.project(p) == pytest.approx((20.0, 0.4))                       # global: top leg is nearer
    assert t.project(p, near_s=1.0, window=1.5) == pytest.approx((1.0, 0.6))  # car is on the bottom leg
    assert t.project(p, near_s=20.0) == pytest.approx((20.0, 0.4))
    # per-point near_s for a batch
    s, off = t.project(np.array([p, p]), near_s=np.array([1.0, 20.0]), window=1.5)
    np.testing.assert_allclose(s, [1.0, 20.0])
    np.testing.assert_allclose(off, [0.6, 0.4])


def test_near_s_window_wraps_at_the_seam(thin_loop):
    # near_s just before the end of the lap: the window must reach over the seam
    # to the start of the bottom leg; without wrapping the best would be the
    # corner (0, 0), 0.51 m away instead of 0.1 m.
    assert thin_loop.project((0.5, -0.1), near_s=21.8, window=1.0) == pytest.approx((0.5, -0.1))
    assert thin_loop.project((0.5, -0.1), near_s=-0.2, window=1.0) == pytest.approx((0.5, -0.1))


def test_open_track(tmp_path):
    t = write_track(tmp_path, "closed: false\nwidth: 0.5\n0 0\n1 0\n2 0\n2 1\n")
    assert not t.closed and t.length == pytest.approx(3.0)
    np.testing.assert_allclose(t.s, [0, 1, 2, 3])
    assert t.closest_waypoints(3.0) == (2, 3)      # the end is bracketed by the last segment
    assert t.closest_waypoints(0.5) == (0, 1)
    np.testing.assert_allclose(t.point_at(5.0), [2.0, 1.0])  # clipped, no wrap
    assert t.project((-1.0, 0.2)) == pytest.approx((0.0, math.hypot(1.0, 0.2)))
    assert t.start_pose(1.0) == pytest.approx((2.0, 1.0, PI / 2))
    rev = t.reverse()
    np.testing.assert_allclose(rev.waypoints, t.waypoints[::-1])
    assert rev.project((1.0, 0.2)) == pytest.approx((2.0, -0.2))


def test_wrap_of_tiny_negative_s(square):
    # -1e-17 mod 16 rounds to 16.0 in floating point; it must land on s = 0, not on the seam's far side
    assert square.closest_waypoints(-1e-17) == (0, 1)
    prev, nxt = square.closest_waypoints(np.array([-1e-17, 4.0]))
    np.testing.assert_array_equal(prev, [0, 1])
    np.testing.assert_array_equal(nxt, [1, 2])
    assert square.heading_at(np.array([-1e-17]))[0] == pytest.approx(0.0)


def test_heading_is_never_minus_pi(tmp_path):
    # a westward segment from y = 0.0 to y = -0.0 has dy = -0.0, and atan2(-0.0, -4) = -pi
    t = write_track(tmp_path, "width: 1\n0 4\n4 4\n4 0\n0 -0.0\n", "west.track")
    assert t.heading_at(t.s[2] + 1.0) == math.pi


def test_is_inside_uses_the_real_borders_when_the_centre_line_is_off_middle(tmp_path):
    # a DeepRacer-style route whose centre line is 0.7 m from its inner (left) border and 0.3 m from the outer
    centre = np.array([[0, 0], [2, 0], [4, 0], [4, 2], [4, 4], [2, 4], [0, 4], [0, 2], [0, 0]], float)
    inner = np.array([[0.7, 0.7], [2, 0.7], [3.3, 0.7], [3.3, 2], [3.3, 3.3], [2, 3.3], [0.7, 3.3], [0.7, 2],
                      [0.7, 0.7]])
    outer = np.array([[-0.3, -0.3], [2, -0.3], [4.3, -0.3], [4.3, 2], [4.3, 4.3], [2, 4.3], [-0.3, 4.3],
                      [-0.3, 2], [-0.3, -0.3]])
    path = tmp_path / "offset.npy"
    np.save(path, np.hstack([centre, inner, outer]))
    track = load_track(path)
    assert track.widths[1] == pytest.approx(1.0)
    # half the width would be 0.5 m: the real left border is 0.7 m away, the right one 0.3 m
    assert track.is_inside((2.0, 0.6)) is True
    assert track.is_inside((2.0, -0.4)) is False
    assert track.reverse().is_inside((2.0, 0.6)) is True  # reversed: the same road, sides swapped


def test_circle_radii_on_paper():
    """geometry.circle_radii: points on a circle give its radius; three points in a row give inf."""
    from racekit.tracks.geometry import circle_radii

    u = np.arange(36) * (2 * PI / 36)
    assert np.allclose(circle_radii(np.stack([2.0 * np.cos(u), 2.0 * np.sin(u)], axis=1)), 2.0)
    # The middle of a straight is inf; (8, 0) with its neighbours (4, 0) and (4, 3) is a 3-4-5
    # right triangle, whose circumradius is half its hypotenuse.
    r = circle_radii(np.array([[0.0, 0.0], [4.0, 0.0], [8.0, 0.0], [4.0, 3.0]]))
    assert r[1] == np.inf
    assert math.isclose(r[2], 2.5)


def test_loaders_and_generator_share_one_spacing():
    """io (smooth .track files) and generate (generated tracks) take SPACING from geometry, not from each other."""
    from racekit.tracks import generate, geometry, io

    assert io.SPACING is geometry.SPACING and generate.SPACING is geometry.SPACING
    assert generate.MIN_RADIUS == geometry.MIN_RADIUS == 0.6
    assert 2 * geometry.TURNING_RADIUS < geometry.MIN_RADIUS
