"""The stand-in car with DeepRacer Evo's sensors: `racekit sim serve` streams the stereo pair as two cameras and
serves its LIDAR scan as an RPLIDAR's bytes on a pseudo-terminal, and the real car runtime drives with both."""
import csv
import io
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hardware_helpers import make_sensor_model, wait_until
from racekit.hardware.camera import open_camera
from racekit.hardware.lidar import open_lidar
from racekit.hardware.lidar_observation import scan_to_ranges
from racekit.hardware.service import DriveConfig, drive
from racekit.sim.sensors import lidar_observation
from racekit.simserver import SimServer
from racekit.tracks import load_track
from simtools import Output

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20.0
# the wide loop of test_simserve_drive.py, with a box 0.5 m to the left of the start line
BOXED_LOOP = ("name: boxed\nwidth: 3.0\nsmooth: false\nobstacle: 0 0.5 0.2\n"
              "0 0\n18 0\n20 2\n20 8\n18 10\n2 10\n0 8\n0 2\n")
CODE = [float(2 ** k) for k in range(8)]  # LIDAR weights: the steering spells out which sectors see something


@pytest.fixture
def boxed(tmp_path):
    path = tmp_path / "boxed.track"
    path.write_text(BOXED_LOOP)
    return load_track(str(path))


def test_the_runtime_reads_the_simulators_stereo_pair_and_lidar_through_streams_and_serial_bytes(tmp_path, boxed):
    server = SimServer(boxed, "mm1", port=0, out=io.StringIO(), sensors=("stereo-cameras", "sector-lidar"))
    stop = threading.Event()
    thread = threading.Thread(target=server.run, args=(stop,), daemon=True)
    thread.start()
    try:
        ranges = server.lidar_ranges
        left_rays = np.flatnonzero(np.isfinite(ranges))
        assert left_rays.size and (ranges[left_rays] < 0.5).all()  # the box, and nothing else: the track is flat
        expected = float(np.dot(CODE, lidar_observation(ranges, "sector-lidar")))
        assert expected in (2.0, 4.0, 6.0)  # sectors 1 and 2 only: the car's left (68-140 degrees)
        cameras = [open_camera(url).start() for url in server.camera_urls]
        try:
            assert wait_until(lambda: all(c.latest() is not None for c in cameras), WAIT)
            left, right = (c.latest().frame for c in cameras)
        finally:
            for camera in cameras:
                camera.stop()
        assert left.shape == right.shape == (120, 160, 3) and (left[..., 0] == left[..., 2]).all()  # grey, as BGR
        assert left.std() > 5 and 0 < np.abs(left.astype(int) - right).mean() < 40  # two views 6 cm apart
        # the car's own LIDAR driver on the served pseudo-terminal sees the simulator's scan
        lidar = open_lidar(server.lidar_port)
        try:
            assert wait_until(lambda: lidar.latest() is not None and lidar.latest().index >= 2, WAIT)
            scan = lidar.latest()
        finally:
            lidar.stop()
        car_ranges = scan_to_ranges(scan.angles_deg, scan.distances_m)
        np.testing.assert_allclose(car_ranges[left_rays], ranges[left_rays], atol=0.002)  # the car at rest settles
        assert np.isinf(np.delete(car_ranges, left_rays)).all()
        # and `racekit car drive`'s loop drives with both: the model's steering is the LIDAR code (speed 0)
        model = make_sensor_model(tmp_path / "evo.onnx", ("stereo-cameras", "sector-lidar"), width=80, height=60,
                                  channel_weights=[0.0] * 4, lidar_weights=CODE, speed=0.0)
        log, out = tmp_path / "drive.csv", io.StringIO()
        drive(DriveConfig(model=str(model), serial=server.serial, controller="mm1", camera=server.camera_urls[0],
                          right_camera=server.camera_urls[1], lidar=server.lidar_port, max_speed=1.0, log=str(log),
                          duration_s=1.5), out=out)
    finally:
        stop.set()
        thread.join(timeout=10)
        server.close()
    rows = [r for r in csv.DictReader(log.open()) if r["reason"] == "drive"]
    assert len(rows) > 5 and {float(r["steering_deg"]) for r in rows} == {expected}, out.getvalue()
    assert "stereo pair skew: p50" in out.getvalue() and "lidar scan age at the command" in out.getvalue()


def test_sim_serve_command_offers_the_stereo_cameras_and_the_lidar():
    proc = subprocess.Popen([sys.executable, "-m", "racekit", "sim", "serve", "--track", "oval", "--port", "0",
                             "--sensor", "stereo-cameras", "--sensor", "lidar", "--duration", "60"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = Output(proc.stdout, WAIT)
    try:
        cams, lidar_line = out.wait_for("stereo cameras 160x120 grey"), out.wait_for("LIDAR (RPLIDAR A1 protocol")
        assert cams and lidar_line, (out.lines, proc.poll())
        left, right = cams.split("left at ")[1].split(", right at ")
        port = lidar_line.split(" on ")[-1]
        assert out.wait_for(f"--camera {left} --camera {right} --lidar {port}")
        lidar = open_lidar(port)
        try:
            assert wait_until(lambda: lidar.latest() is not None, WAIT)
        finally:
            lidar.stop()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)


def test_sim_serve_refuses_sensors_deepracer_forbids():
    result = subprocess.run([sys.executable, "-m", "racekit", "sim", "serve", "--sensor", "lidar"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("racekit: error: --sensor: ")
    assert "exactly one camera" in lines[0]
