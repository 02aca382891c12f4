"""The racekit command line, run as a user would: real processes, real files."""
import re
import subprocess
import sys

import cv2
import numpy as np

from racekit.cli import main
from racekit.tracks import DEFAULT_TRACK, builtin_track_names


def racekit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "racekit", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_tracks_list_shows_every_builtin_track(capsys):
    assert main(["tracks", "list"]) == 0
    out = capsys.readouterr().out
    for name in builtin_track_names():
        assert re.search(rf"^{name}\s+\d+\.\d\d\s+\d\.\d\d\s+c?cw", out, re.MULTILINE)
    assert f"{DEFAULT_TRACK}" in out and "(default)" in out


def test_tracks_show_draws_the_map_with_a_direction_arrow(tmp_path, capsys):
    out = tmp_path / "maps" / "piccolo.png"
    assert main(["tracks", "show", "piccolo", "--out", str(out)]) == 0
    image = cv2.imread(str(out))[:, :, ::-1]
    assert image.shape[0] > 300 and image.shape[1] > 300
    road = np.all(np.abs(image.astype(int) - (48, 48, 52)) < 6, axis=2).mean()
    arrow = ((image[:, :, 0] > 200) & (image[:, :, 1] < 100) & (image[:, :, 2] < 100)).sum()
    assert 0.05 < road < 0.6 and arrow > 20


def test_a_bad_track_is_one_clear_line_and_exit_code_2(tmp_path):
    result = racekit("tracks", "show", "no-such-track", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no-such-track" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "bad.track"
    bad.write_text("name: bad\nwidth: 1.0\n0 0\n1 nan\n2 0\n")
    result = racekit("tracks", "show", str(bad), "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2 and str(bad) in result.stderr and "Traceback" not in result.stderr


def test_sim_demo_writes_a_video_of_the_lap_and_prints_the_lap_time(tmp_path):
    out = tmp_path / "lap.mp4"
    result = racekit("sim", "demo", "--track", "oval", "--out", str(out), "--size", "320x240")
    assert result.returncode == 0, result.stderr
    match = re.search(r"lap in (\d+\.\d\d) s of simulated time \((\d+) steps\)", result.stdout)
    assert match, result.stdout
    lap_time, steps = float(match.group(1)), int(match.group(2))
    video = cv2.VideoCapture(str(out))
    frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = video.read()
    assert ok and frame.shape == (240, 320, 3) and frames == steps
    assert (steps - 1) / 15 < lap_time <= steps / 15


def test_version():
    result = racekit("--version")
    assert result.returncode == 0 and result.stdout.startswith("racekit ")
