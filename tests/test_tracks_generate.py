"""Generated tracks: reproducible, valid, varied, and reachable from load_track and the CLI.

The checks on the tracks are written out here from first principles (segment
crossings, circle radii, point-to-segment distances), not with the generator's
own checks, so a fault in those would not hide itself.
"""
import math
import random
import subprocess
import sys

import numpy as np
import pytest

from racekit.cli import main
from racekit.tracks import TrackError, generate_track, load_track
from racekit.tracks.generate import DEFAULT_LENGTH, DEFAULT_WIDTH, BoundsError

SEEDS = range(40)
TURNING_RADIUS = 0.164 / math.tan(math.radians(30))  # the car: wheelbase 0.164 m, 30 degrees of steering
FAR_ALONG = 3.0  # parts of the lap further apart than this along the track ...
GAP = 0.3        # ... keep at least this much between their edges


@pytest.fixture(scope="module")
def tracks():
    return {seed: load_track(f"generated:{seed}") for seed in SEEDS}


# -- first-principles geometry ----------------------------------------------------------

def crossings(p, q=None):
    """Pairs (i, j) of segments of loop p (and loop q, if given) that cross; adjacent ones of p excluded."""
    q_given = q is not None
    q = p if q is None else q
    a, b = p, np.roll(p, -1, axis=0)
    c, d = q[:, None], np.roll(q, -1, axis=0)[:, None]

    def side(u, v, w):  # > 0 when w is left of u -> v
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])

    hit = (side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)
    if not q_given:
        n = len(p)
        i, j = np.indices((n, n))
        gap = np.abs(i - j)
        hit &= (gap > 1) & (gap < n - 1)
    return [tuple(x) for x in np.argwhere(hit)]


def radii(p):
    """Radius of the circle through each waypoint and its neighbours (loop)."""
    a, b, c = np.roll(p, 1, axis=0), p, np.roll(p, -1, axis=0)
    ab, bc, ca = (np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1), np.linalg.norm(a - c, axis=1))
    area2 = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    with np.errstate(divide="ignore"):
        return np.where(area2 > 0, ab * bc * ca / (2 * area2), np.inf)


def distances_to_centre(t, points, s_points):
    """(distance, along-track gap) from each point (with its own s) to every centre-line segment."""
    a = t.waypoints
    d = np.roll(a, -1, axis=0) - a
    seg = np.linalg.norm(d, axis=1)
    w = points[:, None, :] - a[None]
    u = np.clip(np.einsum("ijk,jk->ij", w, d) / seg ** 2, 0.0, 1.0)
    dist = np.linalg.norm(w - u[..., None] * d[None], axis=2)
    along = np.abs(s_points[:, None] - (t.s[None, :] + u * seg[None, :]))
    return dist, np.minimum(along, t.length - along)


def turning(t):
    """(s, cumulative turn, cumulative |turn|) at each waypoint over two laps, for windows that wrap."""
    d = np.roll(t.waypoints, -1, axis=0) - t.waypoints
    h = np.arctan2(d[:, 1], d[:, 0])
    turn = (h - np.roll(h, 1) + np.pi) % (2 * np.pi) - np.pi  # at waypoint i, from segment i-1 to i
    s = np.concatenate([t.s, t.s + t.length])
    return s, np.cumsum(np.tile(turn, 2)), np.cumsum(np.abs(np.tile(turn, 2)))


def windows(t, span):
    """(net turn, total |turn|) over each stretch of `span` metres starting at a waypoint."""
    s, net, total = turning(t)
    n = len(t.waypoints)
    j = np.searchsorted(s, s[:n] + span)
    return net[j] - net[:n], total[j] - total[:n]


def has_hairpin(t):
    return np.degrees(np.abs(windows(t, 4.0)[0])).max() > 150


def has_long_straight(t, span=4.0):
    return np.degrees(windows(t, span)[1]).min() < 3


def turns_both_ways(t):
    net, _ = windows(t, 2.0)
    return np.degrees(net).max() > 30 and np.degrees(net).min() < -30


# -- reproducible -------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_track_and_other_seeds_others():
    a = generate_track(11)
    random.seed(99)
    np.random.seed(99)  # the generator has its own numpy Generator: global state changes nothing
    b = generate_track(11)
    np.testing.assert_array_equal(a.waypoints, b.waypoints)
    np.testing.assert_array_equal(a.left_border, b.left_border)
    np.testing.assert_array_equal(a.right_border, b.right_border)
    others = [generate_track(s) for s in (12, 13, 14)]
    assert all(len(o.waypoints) != len(a.waypoints) or not np.allclose(o.waypoints, a.waypoints) for o in others)
    assert len({round(o.length, 3) for o in others + [a]}) == 4


def test_generated_seed_loads_by_name_anywhere_a_track_is_taken(tracks):
    t = load_track("generated:7")
    assert (t.name, t.source, t.closed) == ("generated:7", "generated:7", True)
    np.testing.assert_array_equal(t.waypoints, generate_track(7).waypoints)
    np.testing.assert_array_equal(t.waypoints, tracks[7].waypoints)
    back = load_track("generated:7", reverse=True)
    assert back.reversed and back.direction != t.direction and back.length == pytest.approx(t.length)


@pytest.mark.parametrize("name", ["generated:", "generated:x", "generated:-1", "generated:1.5"])
def test_a_bad_generated_name_is_one_clear_line(name):
    with pytest.raises(TrackError) as info:
        load_track(name)
    msg = str(info.value)
    assert "\n" not in msg and name in msg and "generated:SEED" in msg


# -- valid ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_every_generated_track_is_valid(seed, tracks):
    t = tracks[seed]
    w = float(t.widths.mean())
    assert t.closed and t.direction in ("ccw", "cw")
    assert DEFAULT_LENGTH[0] <= t.length <= DEFAULT_LENGTH[1]
    assert DEFAULT_WIDTH[0] - 1e-9 <= t.widths.min() and t.widths.max() <= DEFAULT_WIDTH[1] + 1e-9
    step = np.linalg.norm(np.roll(t.waypoints, -1, axis=0) - t.waypoints, axis=1)
    assert 0.15 <= step.min() and step.max() <= 0.25  # closed: the last point is a step from the first
    assert crossings(t.waypoints) == []

    # Every corner drivable (twice the car's turning radius) and wide enough not to fold the inner border.
    r = radii(t.waypoints)
    assert r.min() >= 2 * TURNING_RADIUS, f"radius {r.min():.3f} m at waypoint {r.argmin()}"
    assert r.min() >= w / 2 + 0.1, f"radius {r.min():.3f} m on a {w:.2f} m road"

    # Borders: neither crosses itself nor the other ...
    assert crossings(t.left_border) == [] and crossings(t.right_border) == []
    assert crossings(t.left_border, t.right_border) == []
    # ... and no border point lies on the road of another part of the lap.
    for border in (t.left_border, t.right_border):
        dist, along = distances_to_centre(t, border, t.s)
        worst = np.where(along > FAR_ALONG, dist, np.inf).min()
        assert worst >= w / 2 + GAP, f"a border point {worst:.2f} m from the centre of another part"

    # Parts of the lap far apart along it keep a gap between their edges.
    dist, along = distances_to_centre(t, t.waypoints, t.s)
    worst = np.where(along > FAR_ALONG, dist, np.inf).min()
    assert worst >= w + GAP, f"two parts of the road {worst:.2f} m apart on a {w:.2f} m road"


def test_generated_tracks_are_varied(tracks):
    ts = list(tracks.values())
    assert {t.direction for t in ts} == {"ccw", "cw"}
    assert len({round(t.length) for t in ts}) >= 15
    assert sum(has_hairpin(t) for t in ts) >= 5, "heading change > 150 degrees within 4 m"
    assert sum(has_long_straight(t) for t in ts) >= 5, "straights of 4 m"
    assert sum(turns_both_ways(t) for t in ts) >= 5, "left and right turns on one track (S-bends)"
    assert any(has_long_straight(t, 6.0) for t in ts)
    sizes = [len(t.waypoints) for t in ts]
    assert min(sizes) < 100 < max(sizes)


# -- bounds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("length, width", [((20, 22), (1.2, 1.3)), ((12, 14), (0.5, 0.6)),
                                           ((60, 80), (2.5, 3.0)), ((25, 25), (1.0, 1.0))])
def test_other_bounds_are_met(length, width):
    for seed in range(5):
        t = generate_track(seed, length=length, width=width)
        assert length[0] - 0.005 <= t.length <= length[1] + 0.005
        assert width[0] - 1e-9 <= t.widths.min() and t.widths.max() <= width[1] + 1e-9
        assert crossings(t.waypoints) == []
        assert radii(t.waypoints).min() >= max(2 * TURNING_RADIUS, t.widths.max() / 2 + 0.1)
        assert t.name.startswith(f"generated:{seed} (")  # not to be taken for generated:SEED


@pytest.mark.parametrize("length, width, option", [((3, 4), DEFAULT_WIDTH, "length"),
                                                   ((40, 15), DEFAULT_WIDTH, "length"),
                                                   ((15, 1000), DEFAULT_WIDTH, "length"),
                                                   (DEFAULT_LENGTH, (0.5, 5), "width"),
                                                   (DEFAULT_LENGTH, (0, 1), "width"),
                                                   (DEFAULT_LENGTH, (1.0, 0.8), "width"),
                                                   ((10, 20), (2.9, 3.0), "width")])
def test_bounds_that_cannot_be_met_name_the_bound(length, width, option):
    with pytest.raises(BoundsError) as info:
        generate_track(0, length=length, width=width)
    assert info.value.option == option and "\n" not in str(info.value)


def test_giving_up_after_the_bounded_tries_says_so(monkeypatch, tmp_path, capsys):
    import racekit.tracks.generate as generate

    monkeypatch.setattr(generate, "_fault", lambda *args: "a fault")  # every draw fails
    with pytest.raises(TrackError, match=r"generated:5: no valid track after \d+ tries \(the last: a fault\)"):
        generate_track(5)
    assert main(["tracks", "generate", "--seed", "5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no valid track" in err


# -- the command line -------------------------------------------------------------------------

def test_cli_writes_n_tracks_that_load_back_as_generated_seeds(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["tracks", "generate", "--seed", "3", "--count", "4", "--out", str(out)]) == 0
    files = sorted(out.glob("*.track"))
    assert [f.name for f in files] == [f"generated-{s}.track" for s in (3, 4, 5, 6)]
    for f, seed in zip(files, (3, 4, 5, 6)):
        t, g = load_track(f), load_track(f"generated:{seed}")
        assert t.name == g.name == f"generated:{seed}" and t.source == str(f)
        np.testing.assert_array_equal(t.waypoints, g.waypoints)  # the file holds the very same points
        np.testing.assert_array_equal(t.left_border, g.left_border)
    assert capsys.readouterr().out.count("\n") == 4


def test_cli_bounds_are_used(tmp_path, capsys):
    args = ["tracks", "generate", "--seed", "1", "--count", "3", "--length", "30-32", "--width", "1.2-1.25"]
    assert main(args + ["--out", str(tmp_path)]) == 0
    for f in tmp_path.glob("*.track"):
        t = load_track(f)
        assert 30 <= t.length <= 32 and 1.2 - 1e-9 <= t.widths.min() <= t.widths.max() <= 1.25 + 1e-9


@pytest.mark.parametrize("args, shown", [(["--length", "3-4"], "--length 3-4"),
                                         (["--length", "40-15"], "--length 40-15"),
                                         (["--length", "abc"], "--length 'abc'"),
                                         (["--length", "15-"], "--length '15-'"),
                                         (["--width", "0.5-5"], "--width 0.5-5"),
                                         (["--width", "2.9-3", "--length", "10-20"], "--width 2.9-3"),
                                         (["--count", "0"], "--count 0")])
def test_cli_bad_bounds_are_one_line_and_exit_2(args, shown, tmp_path, capsys):
    assert main(["tracks", "generate", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and shown in err, err
    assert not (tmp_path / "x").exists()


def test_cli_bad_bounds_in_a_real_process_have_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "racekit", "tracks", "generate", "--length", "3-4",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--length 3-4" in result.stderr and "Traceback" not in result.stderr


def test_cli_shows_a_generated_track(tmp_path, capsys):
    out = tmp_path / "g3.png"
    assert main(["tracks", "show", "generated:3", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000 and "generated:3" in capsys.readouterr().out


def test_cli_defaults_are_the_generator_defaults():
    from racekit.cli import build_parser

    args = build_parser().parse_args(["tracks", "generate", "--out", "x"])
    from racekit.cli.tracks import bounds_argument

    assert bounds_argument("--length", args.length) == DEFAULT_LENGTH
    assert bounds_argument("--width", args.width) == DEFAULT_WIDTH


def test_the_checks_here_catch_what_they_look_for(tmp_path):
    """The helpers above, on shapes that are wrong: so the passes above mean something."""
    u = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    assert crossings(np.stack([3 * np.sin(u), 2 * np.sin(2 * u)], axis=1))  # a figure eight
    assert radii(np.stack([0.4 * np.cos(u), 0.4 * np.sin(u)], axis=1)).min() < 2 * TURNING_RADIUS
    # A 10 m stadium whose straights are 1.1 m apart: legal to load, but a 0.9 m road nearly touches itself.
    pinched = tmp_path / "pinched.track"
    pinched.write_text("width: 0.9\nsmooth: true\n0 0\n5 0\n10 0\n10.55 0.55\n10 1.1\n5 1.1\n0 1.1\n-0.55 0.55\n")
    t = load_track(pinched)
    dist, along = distances_to_centre(t, t.waypoints, t.s)
    assert np.where(along > FAR_ALONG, dist, np.inf).min() < 0.9 + GAP
    piccolo, meadow, oval = load_track("piccolo"), load_track("meadow"), load_track("oval")
    assert has_hairpin(piccolo) and not has_hairpin(meadow)  # piccolo's hairpin; meadow is gentle
    assert has_long_straight(piccolo, 6.0) and turns_both_ways(piccolo) and not turns_both_ways(oval)
