"""`racekit car drive` with DeepRacer Evo's sensors, as a real process: two video-file cameras as the stereo
pair, a software RPLIDAR on a pseudo-terminal, a software motor controller on another; and the sensor
mistakes it refuses in one line before the motor controller is opened."""
import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hardware_helpers import make_sensor_model, write_video
from lidar_device import FakeLidar, box
from racekit.hardware.virtual import open_virtual_controller

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0


def racekit_car(*args):
    return subprocess.Popen([sys.executable, "-m", "racekit", "car", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def videos(tmp_path):
    """A white picture (the left camera) and a black one (the right camera), 15 fps."""
    return [str(write_video(tmp_path / f"{name}.avi", [np.full((120, 160, 3), v, np.uint8)] * 8))
            for name, v in (("left", 255), ("right", 0))]


def lidar_weights():
    weights = [0.0] * 8
    weights[1] = -20.0  # sector 1: the car's left
    return weights


def test_a_stereo_and_lidar_model_drives_from_two_cameras_and_the_lidars_bytes(tmp_path, videos):
    model = make_sensor_model(tmp_path / "evo.onnx", ("stereo-cameras", "sector-lidar"), lidar_weights=lidar_weights())
    log = tmp_path / "drive.csv"
    # a box 0.3 m away on the car's left (device angle 90: the Evo's LIDAR faces backward and counts clockwise)
    with FakeLidar(box(90.0, 0.3, width_deg=20.0)) as fake, open_virtual_controller("mm1") as virtual:
        proc = racekit_car("drive", "--model", str(model), "--serial", virtual.port, "--controller", "mm1",
                           "--camera", videos[0], "--camera", videos[1], "--lidar", fake.port,
                           "--max-speed", "0.5", "--log", str(log))
        try:
            # +30 degrees toward the white left camera, -20 for the box on the left: +10 = 1/3 of full left,
            # 1533 us (MJPEG's white is a little off 255)
            steered = virtual.wait_for(lambda h: any(1530 <= r.steering_us <= 1536 for r in h), WAIT)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert steered, (err, virtual.history()[-3:])
        assert wait_for_stop(fake)
    assert proc.returncode == 0, err
    rows = list(csv.DictReader(log.open()))
    driving = [r for r in rows if r["reason"] == "drive"]
    assert driving and all(float(r["steering_deg"]) == pytest.approx(10.0, abs=0.5) for r in driving)
    assert rows[-1]["reason"] == "stop: SIGTERM" and rows[-1]["throttle_us"] == "1446"
    assert "stereo-cameras, sector-lidar" in out and f"LIDAR {fake.port} (mount yaw 180 deg)" in out
    assert "\n  lidar " in out and "stereo pair skew: p50 " in out and "lidar scan age at the command: p50 " in out


@pytest.mark.parametrize("sensors, cameras, lidar, message", [
    (("front-camera", "lidar"), 1, False, "drives with a LIDAR (lidar; sensors: front-camera, lidar) but the car has "
                                          "none: give --lidar PORT"),
    (("stereo-cameras",), 1, False, "the model sees through stereo-cameras (sensors: stereo-cameras) but the car has "
                                    "one camera: give two --camera sources"),
    (("front-camera",), 2, False, "the model sees through one front-camera (sensors: front-camera) but the car was "
                                  "given a stereo pair"),
    (("front-camera",), 1, True, "--lidar is given but the model has no LIDAR input (sensors: front-camera)"),
])
def test_a_model_whose_sensors_the_car_lacks_is_refused_before_the_motors(tmp_path, videos, sensors, cameras, lidar,
                                                                          message):
    model = make_sensor_model(tmp_path / "m.onnx", sensors)
    with FakeLidar() as fake, open_virtual_controller("mm1") as virtual:
        args = ["--model", str(model), "--serial", virtual.port, "--controller", "mm1",
                "--log", str(tmp_path / "drive.csv")]
        args += [x for video in videos[:cameras] for x in ("--camera", video)] + (["--lidar", fake.port] if lidar else [])
        _, err = racekit_car("drive", *args).communicate(timeout=WAIT)
        time.sleep(0.3)  # anything sent would have arrived by now (a test of absence)
        assert virtual.history() == [] and fake.commands == []  # neither the motors nor the LIDAR were touched
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"racekit: error: {model}: ") and message in lines[0]
    assert not (tmp_path / "drive.csv").exists()


@pytest.mark.parametrize("cue, message", [
    ("mute", "no answer to GET_HEALTH within 1 s (got 0 of 7 bytes: nothing)"),
    ("garbage", "GET_HEALTH answered with a wrong descriptor"),
])
def test_a_lidar_sending_nothing_or_garbage_is_one_line_before_the_motors(tmp_path, videos, cue, message):
    model = make_sensor_model(tmp_path / "m.onnx", ("front-camera", "lidar"))
    with FakeLidar() as fake, open_virtual_controller("mm1") as virtual:
        fake.mute = cue == "mute"
        if cue == "garbage":
            fake.health_reply = bytes(range(0x30, 0x3A))
        proc = racekit_car("drive", "--model", str(model), "--serial", virtual.port, "--controller", "mm1",
                           "--camera", videos[0], "--lidar", fake.port, "--log", str(tmp_path / "drive.csv"))
        _, err = proc.communicate(timeout=WAIT)
        time.sleep(0.3)
        assert virtual.history() == []
    lines = err.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"racekit: error: LIDAR {fake.port}: ") and message in lines[0]


def wait_for_stop(fake, timeout: float = 5.0) -> bool:
    """The driver's stop() sent STOP (0x25) after its SCAN: the LIDAR stops when the car does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if 0x20 in fake.commands and fake.commands[-1] == 0x25:
            return True
        time.sleep(0.02)
    return False


def test_one_side_by_side_stereo_device_is_split_into_the_pair(tmp_path):
    model = make_sensor_model(tmp_path / "stereo.onnx", ("stereo-cameras",))
    picture = np.zeros((120, 320, 3), np.uint8)
    picture[:, :160] = 255  # the left camera's half white, the right one's black: full left (+30 degrees)
    video = write_video(tmp_path / "sbs.avi", [picture] * 8)
    log = tmp_path / "drive.csv"
    with open_virtual_controller("mm1") as virtual:
        proc = racekit_car("drive", "--model", str(model), "--serial", virtual.port, "--controller", "mm1",
                           "--camera", str(video), "--stereo-side-by-side", "--log", str(log), "--duration", "1.5")
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert any(r.steering_us >= 1695 for r in virtual.history("command"))  # 1700 us: full left
    assert f"side-by-side stereo camera {video}" in out and "stereo pair skew: p50 0.0 ms" in out
    assert any(r["reason"] == "drive" and float(r["steering_deg"]) > 29 for r in csv.DictReader(log.open()))
