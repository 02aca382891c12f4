"""Loading: our .track format, DeepRacer .npy files, built-in names, and every bad-file error."""
import math

import numpy as np
import pytest

from racekit.tracks import DEFAULT_TRACK, TrackError, builtin_track_names, load_track

SQUARE = "width: 1.0\n0 0\n4 0\n4 4\n0 4\n"


def square_npy(clockwise=False, closed=True):
    """(N, 6) rows of a 4 x 4 m square, 1 m wide: centre, inner (inside the loop), outer."""
    c = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], float)
    inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], float) / math.sqrt(2) * 0.5
    rows = np.hstack([c, c + inward, c - inward])
    if clockwise:
        rows = rows[::-1]
    if closed:
        rows = np.vstack([rows, rows[:1]])
    return rows


def error_of(path) -> str:
    with pytest.raises(TrackError) as info:
        load_track(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


# -- .npy ---------------------------------------------------------------------------
def test_npy_round_trip_ccw(tmp_path):
    rows = square_npy()
    np.save(tmp_path / "sq.npy", rows)
    t = load_track(tmp_path / "sq.npy")
    assert (t.name, t.source, t.closed, t.direction) == ("sq", str(tmp_path / "sq.npy"), True, "ccw")
    np.testing.assert_array_equal(t.waypoints, rows[:4, 0:2])     # the repeated row is dropped
    np.testing.assert_array_equal(t.left_border, rows[:4, 2:4])   # inner is the left on ccw
    np.testing.assert_array_equal(t.right_border, rows[:4, 4:6])
    np.testing.assert_allclose(t.widths, 1.0)
    assert t.length == pytest.approx(16.0)
    assert t.obstacles == []
    assert t.project((2.0, 0.3)) == pytest.approx((2.0, 0.3))


def test_npy_clockwise_puts_inner_on_the_right(tmp_path):
    rows = square_npy(clockwise=True)
    np.save(tmp_path / "cw.npy", rows)
    t = load_track(str(tmp_path / "cw.npy"))
    assert t.direction == "cw"
    np.testing.assert_array_equal(t.left_border, rows[:4, 4:6])   # outer
    np.testing.assert_array_equal(t.right_border, rows[:4, 2:4])  # inner
    # driving clockwise along the bottom (west), the inside of the square is on the right
    s, off = t.project((2.0, 0.3))
    assert off == pytest.approx(-0.3)


def test_npy_open_and_reverse(tmp_path):
    rows = square_npy(closed=False)
    np.save(tmp_path / "open.npy", rows)
    t = load_track(tmp_path / "open.npy")
    assert not t.closed and len(t.waypoints) == 4 and t.length == pytest.approx(12.0)
    rev = load_track(tmp_path / "open.npy", reverse=True)
    assert rev.reversed and not rev.closed
    np.testing.assert_array_equal(rev.waypoints, rows[::-1, 0:2])


def test_npy_repeated_row_is_kept_and_harmless(tmp_path):
    # Most DeepRacer files repeat one waypoint mid-lap; indices must stay as in the file.
    rows = square_npy()
    rows = np.vstack([rows[:2], rows[1:2], rows[2:]])
    np.save(tmp_path / "dup.npy", rows)
    t = load_track(tmp_path / "dup.npy")
    assert len(t.waypoints) == 5 and t.length == pytest.approx(16.0)
    assert t.closest_waypoints(4.0) == (2, 3)
    assert t.heading_at(4.0) == pytest.approx(math.pi / 2)
    assert t.project((4.3, 0.0)) == pytest.approx((4.0, -0.3))


@pytest.mark.parametrize("make, expected", [
    (lambda r: r[:, :4], "expected shape (N, 6), got (5, 4)"),
    (lambda r: r.ravel(), "expected shape (N, 6), got (30,)"),
    (lambda r: np.where(np.arange(30).reshape(5, 6) == 13, np.nan, r), "row 2: NaN in centre line"),
    (lambda r: np.where(np.arange(30).reshape(5, 6) == 10, np.inf, r), "row 1: infinity in outer border"),
    (lambda r: r[[0, 1, 0]], "need at least 3 points, got 2"),
    (lambda r: np.vstack([r[:2], np.r_[r[2, :2], r[2, :2], r[2, :2]], r[3:]]), "row 2: zero road width"),
    (lambda r: r[[0, 2, 1, 3, 0]], "centre line crosses itself"),   # a bow tie
    (lambda r: r.astype(np.complex128), "expected a float array"),
])
def test_bad_npy(tmp_path, make, expected):
    path = tmp_path / "bad.npy"
    np.save(path, make(square_npy()))
    assert expected in error_of(path)


def test_npy_that_is_not_an_array(tmp_path):
    (tmp_path / "text.npy").write_text("hello")
    assert "not a readable .npy" in error_of(tmp_path / "text.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "not a readable .npy" in error_of(tmp_path / "obj.npy")
    assert "no such file" in error_of(tmp_path / "missing.npy")


# -- .track ---------------------------------------------------------------------------
def test_track_format_options(tmp_path):
    path = tmp_path / "demo.track"
    path.write_text("# a comment\nname: Demo Track  # trailing comment\nwidth: 1.0\ndirection: ccw\n\n"
                    "0 0\n4 0 1.5\n4 4\n0 4\nobstacle: 2 0.2 0.3\nobstacle: 4 2 0.25\n")
    t = load_track(path)
    assert t.name == "Demo Track" and t.source == str(path)
    np.testing.assert_allclose(t.widths, [1.0, 1.5, 1.0, 1.0])
    assert t.obstacles == [(2.0, 0.2, 0.3), (4.0, 2.0, 0.25)]
    path.write_text(SQUARE + "0 0\n")  # repeating the start point closes nothing new
    assert len(load_track(path).waypoints) == 4
    path.write_text(SQUARE)
    assert load_track(path).name == "demo"  # no name: the file name


def test_smooth_track_is_resampled_evenly(tmp_path):
    # 12 control points on a circle of radius 2: the spline must stay close to it
    ang = np.arange(12) * (2 * math.pi / 12)
    pts = "".join(f"{2 * math.cos(a):.6f} {2 * math.sin(a):.6f}\n" for a in ang)
    t = load_track(_write(tmp_path, "smooth: true\nwidth: 0.8\n" + pts))
    r = np.linalg.norm(t.waypoints, axis=1)
    np.testing.assert_allclose(r, 2.0, atol=0.01)
    step = np.linalg.norm(np.diff(t.waypoints, axis=0, append=t.waypoints[:1]), axis=1)
    assert 0.15 <= step.min() and step.max() <= 0.25 and step.max() - step.min() < 1e-3
    assert t.length == pytest.approx(4 * math.pi, rel=2e-3)
    np.testing.assert_allclose(t.waypoints[0], [2.0, 0.0])  # the first control point starts the lap
    np.testing.assert_allclose(t.widths, 0.8)


def test_smooth_width_column_blends(tmp_path):
    t = load_track(_write(tmp_path, "smooth: yes\n0 0 1.0\n4 0 2.0\n4 4 1.0\n0 4 1.0\n"))
    assert t.width_at(0.0) == pytest.approx(1.0)
    assert 1.9 < t.widths.max() <= 2.0        # peaks at the wide control point
    assert t.widths.min() == pytest.approx(1.0)
    assert np.all(np.abs(np.diff(t.widths)) < 0.1)  # no jumps: blended along the spline


def _write(tmp_path, body, name="bad.track"):
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, expected", [
    ("width: 1\n0 0\n4 0\nnan 4\n0 4\n", "line 4: NaN in centre line"),
    ("width: 1\n0 0\n4 0\n4 inf\n0 4\n", "line 4: infinity in centre line"),
    ("width: 1\n0 0\n4 0\n4 4x\n0 4\n", "line 4: cannot read '4x' as a number"),
    ("width: 1\n0 0\n4 0\n4 4 5 6\n", "line 4: expected 'x y' or 'x y width'"),
    ("widht: 1\n0 0\n4 0\n4 4\n", "line 1: unknown key 'widht'"),
    ("width: 0\n0 0\n4 0\n4 4\n", "line 1: width must be > 0, got 0"),
    ("width: 1\n0 0\n4 0 -0.5\n4 4\n", "line 3: width must be > 0, got -0.5"),
    ("width: 1\n0 0\n4 0\n", "need at least 3 points, got 2"),
    ("width: 1\n0 0\n4 4\n4 0\n0 4\n", "line 2: centre line crosses itself"),                 # bow tie
    ("width: 1\nsmooth: true\n0 0\n4 4\n4 0\n0 4\n", "line 3: centre line crosses itself"),  # smoothed bow tie
    ("width: 1\n0 0\n4 0\n2 0\n2 -2\n", "crosses itself"),      # folds back onto itself (touching)
    ("width: 1\ndirection: cw\n0 0\n4 0\n4 4\n", "line 2: 'direction: cw' but the points run ccw"),
    ("0 0 1\n4 0\n4 4 1\n", "line 2: no width for this point"),
    ("width: 1\nwidth: 2\n0 0\n4 0\n4 4\n", "line 2: 'width' given twice (first on line 1)"),
    ("width: 1\nsmooth: maybe\n0 0\n4 0\n4 4\n", "line 2: smooth must be true or false"),
    ("width: 1\ndirection: left\n0 0\n4 0\n4 4\n", "line 2: direction must be ccw or cw"),
    ("width: 1\n0 0\n4 0\n4 0\n4 4\n", "line 4: point repeats the previous point"),
    ("width: 1\n0 0\n4 0\n4 4\nobstacle: 1 2\n", "line 5: expected 'obstacle: x y size'"),
    ("width: 1\n0 0\n4 0\n4 4\nobstacle: 1 2 0\n", "line 5: obstacle size must be > 0"),
])
def test_bad_track_file(tmp_path, body, expected):
    path = _write(tmp_path, body)
    msg = error_of(path)
    assert f"{path} " in msg or f"{path}:" in msg
    assert expected in msg


def test_bad_track_file_bytes(tmp_path):
    path = tmp_path / "latin1.track"
    path.write_bytes(b"name: caf\xe9\n")
    assert "cannot read" in error_of(path)


# -- names and paths -------------------------------------------------------------------
def test_missing_and_unknown(tmp_path):
    assert "no such file" in error_of(tmp_path / "nope.track")
    assert "unknown track file type '.csv'" in error_of(_write(tmp_path, "x", "t.csv"))
    with pytest.raises(TrackError) as info:
        load_track("no_such_track")
    msg = str(info.value)
    assert "'no_such_track'" in msg and "\n" not in msg
    for name in builtin_track_names():
        assert name in msg


def test_builtin_names_and_default():
    names = builtin_track_names()
    assert DEFAULT_TRACK in names and "oval" in names and len(names) >= 4
    t = load_track(DEFAULT_TRACK)
    assert t.name == DEFAULT_TRACK and t.source == f"builtin:{DEFAULT_TRACK}"
    r = load_track(DEFAULT_TRACK, reverse=True)
    assert r.reversed and r.direction != t.direction and r.length == pytest.approx(t.length)


def test_the_documented_example_loads(tmp_path):
    import racekit.tracks.io
    doc = racekit.tracks.io.__doc__
    example = doc[doc.index("    name: lozenge"):doc.index("Why 0.2 m")]
    path = tmp_path / "lozenge.track"
    path.write_text("\n".join(line[4:] for line in example.splitlines()))
    t = load_track(path)
    assert t.name == "lozenge" and t.direction == "ccw" and t.obstacles == [(5.0, 0.2, 0.25)]
    assert np.ptp(t.waypoints[:, 0]) == pytest.approx(14.0, abs=0.05)
    assert np.ptp(t.waypoints[:, 1]) == pytest.approx(4.0, abs=0.1)
    assert t.length == pytest.approx(20 + 4 * math.pi, rel=0.01)
    assert 1.15 < t.widths.max() <= 1.2 and t.widths.min() == pytest.approx(1.0)


def test_open_smooth_track_ends_at_its_end_points(tmp_path):
    t = load_track(_write(tmp_path, "closed: false\nsmooth: true\nwidth: 0.5\n0 0\n2 0\n4 1\n6 1\n", "open.track"))
    assert not t.closed
    np.testing.assert_allclose(t.waypoints[0], [0, 0])
    np.testing.assert_allclose(t.waypoints[-1], [6, 1])
    step = np.linalg.norm(np.diff(t.waypoints, axis=0), axis=1)
    assert step.max() - step.min() < 1e-3 and 0.15 <= step.min() <= 0.25
    assert t.length == pytest.approx(step.sum())
