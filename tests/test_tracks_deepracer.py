"""Every public DeepRacer route file loads, with the length and direction DeepRacer gives it.

The files are test data kept outside the repository (../shared/deepracer-tracks/);
the tests skip when that folder is not there.
"""
import re
from pathlib import Path

import numpy as np
import pytest

from racekit.tracks import load_track

DR_DIR = Path(__file__).resolve().parents[2] / "shared" / "deepracer-tracks"
SKIP = f"DeepRacer track files not found in {DR_DIR} (test data kept outside the repo)"
FILES = sorted(DR_DIR.glob("*.npy")) if DR_DIR.is_dir() else []

# name (rows, 6) float64 length width_mean width_min width_max first==last dir xmin xmax ymin ymax
_ROW = re.compile(r"^(\S+) \((\d+), 6\) float64 ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) (True|False) (ccw|cw) ")


def _stats() -> dict:
    path = DR_DIR / "TRACK_STATS.txt"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            out[m[1]] = dict(rows=int(m[2]), length=float(m[3]), width=float(m[4]),
                             closed=m[7] == "True", direction=m[8])
    return out


STATS = _stats()
params = [pytest.param(f, id=f.stem) for f in FILES] or [pytest.param(None, marks=pytest.mark.skip(reason=SKIP))]


@pytest.mark.skipif(not FILES, reason=SKIP)
def test_all_127_files_are_there_with_stats():
    assert len(FILES) == 127
    assert {f.stem for f in FILES} == set(STATS)


@pytest.mark.parametrize("path", params)
def test_file_loads_like_deepracer(path):
    t = load_track(path)
    st = STATS[path.stem]
    assert t.name == path.stem and t.closed == st["closed"]
    assert len(t.waypoints) == st["rows"] - (1 if st["closed"] else 0)
    assert t.length == pytest.approx(st["length"], rel=0.01)
    assert t.widths.mean() == pytest.approx(st["width"], rel=0.01)
    if st["closed"]:  # an open straight has no area; see test_straight_track
        assert t.direction == st["direction"]
    # the left border really is on the driver's left all round
    assert np.all(t.project(t.left_border)[1] > 0) and np.all(t.project(t.right_border)[1] < 0)
    # every waypoint projects back to its own s, also when searched near it
    s, off = t.project(t.waypoints, near_s=t.s)
    gap = np.abs(s - t.s)
    if t.closed:
        gap = np.minimum(gap, t.length - gap)
    assert gap.max() < 1e-9 and np.abs(off).max() < 1e-9
    rev = t.reverse()
    assert rev.direction != t.direction and rev.length == pytest.approx(t.length)


@pytest.mark.skipif(not FILES, reason=SKIP)
def test_known_reference_values():
    t = load_track(DR_DIR / "reinvent_base.npy")
    assert t.length == pytest.approx(17.71, abs=0.005)
    assert np.median(t.widths) == pytest.approx(0.762, abs=0.0005)
    assert t.direction == "ccw" and t.closed
    t = load_track(DR_DIR / "reInvent2019_track.npy")
    assert t.length == pytest.approx(23.12, abs=0.005)
    assert np.median(t.widths) == pytest.approx(1.067, abs=0.0005)
    t = load_track(DR_DIR / "Spain_track.npy")
    assert t.length == pytest.approx(60.0, abs=0.05) and t.direction == "cw"


@pytest.mark.skipif(not FILES, reason=SKIP)
def test_straight_track():
    t = load_track(DR_DIR / "Straight_track.npy")
    assert not t.closed and len(t.waypoints) == 22
    # Driving +x, inner (y = 1.51) is on the left: DeepRacer's ccw convention.
    assert t.direction == "ccw"
    assert np.all(t.left_border[:, 1] > t.waypoints[:, 1])
    assert t.project((3.0, 1.3))[1] == pytest.approx(0.099, abs=0.001)
    assert t.closest_waypoints(t.length) == (20, 21)


@pytest.mark.skipif(not FILES, reason=SKIP)
def test_bowtie_track_is_not_self_crossing():
    # Despite the name, Bowtie_track's centre line never crosses itself (no
    # DeepRacer file does): it is a dog bone with a 1.9 m waist. Points 0.25 m to
    # the left of the centre line project back next to where they came from.
    t = load_track(DR_DIR / "Bowtie_track.npy")
    assert t.length == pytest.approx(17.428, rel=0.01)
    s = np.linspace(0, t.length, 400, endpoint=False)
    ang = np.asarray(t.heading_at(s)) + np.pi / 2
    probe = t.point_at(s) + 0.25 * np.stack([np.cos(ang), np.sin(ang)], axis=1)  # 0.25 m left
    got, off = t.project(probe, near_s=s)
    gap = np.abs(got - s)
    assert np.minimum(gap, t.length - gap).max() < 0.3
    assert np.all(off > 0)
