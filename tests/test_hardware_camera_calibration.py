"""Each camera's own calibration on the car (mount error, gain): the file's sections, the correction of each
frame before the model sees it, and `racekit car calibrate-cameras` measuring a stereo pair.

The simulator is the car here: its renderer draws the pair (sim/camera.py places each camera, the right one
turned by a known CameraJitter, the simulator's own `stereo_skew` angles), the pictures go to the car as video
files through hardware/camera.py, and the measured angles must be the ones the simulator turned the camera by.
"""
import io
import math
import types

import cv2
import numpy as np
import pytest

from hardware_helpers import make_sensor_model, write_video
from racekit.cli import main
from racekit.hardware.calibration import (Calibration, format_calibration, load_calibration,
                                          load_camera_calibration, save_calibration)
from racekit.hardware.camera_calibration import CameraCalibration, estimate_right_camera, mount_angles, \
    mount_rotation
from racekit.hardware.errors import CalibrationError
from racekit.hardware.model import CameraSpec
from racekit.hardware.preprocess import convert_frame
from racekit.hardware.service import DriveConfig, drive
from racekit.hardware.stereo import StereoFrame, make_stacker
from racekit.hardware.virtual import open_virtual_controller
from racekit.sim.camera import STEREO_BASELINE, CameraJitter, camera_pose
from racekit.sim.camera import CameraSpec as SimCameraSpec
from racekit.sim.looks import Look, draw_look
from racekit.sim.render.fast import FastRenderer
from racekit.tracks import load_track

FOV = 120.0
HEIGHT_M = 2.5  # the pair looks straight down at the floor from here: a scene this far away
SKEW = CameraJitter(pitch_deg=1.2, roll_deg=-0.9, yaw_deg=1.5)  # the right camera's, as stereo_skew draws them
DARKER = 0.8  # the right camera's exposure against the left's


class Rig:
    """The pair's mount for sim/camera.py's camera_pose: its middle HEIGHT_M above the middle of the piccolo
    track's ground picture (tiles around it, for texture), looking down, or `tilt_deg` below the horizon."""

    spec = types.SimpleNamespace(camera_pitch_deg=0.0)

    def __init__(self, ground, tilt_deg: float = 90.0):
        self.middle = np.array([ground.xmin + ground.size_m[0] / 2, ground.ymin + ground.size_m[1] / 2, HEIGHT_M])
        self.tilt = math.radians(tilt_deg)

    def camera_frame(self):
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        return self.middle, np.array([c, 0.0, -s]), np.array([s, 0.0, c])


@pytest.fixture(scope="module")
def ground():
    return draw_look(load_track("piccolo"), Look(floor="tiles", road_texture=20.0, seed=1))


def renderer(ground, tilt_deg: float = 90.0):
    """render(jitter, side) -> BGR 640x480: the left (side +1) or right (-1) camera of the pair."""
    fast, rig, spec = FastRenderer(ground), Rig(ground, tilt_deg), SimCameraSpec(640, 480, 3, FOV)

    def render(jitter, side):
        rgb = fast.render(camera_pose(rig, spec, jitter, side * STEREO_BASELINE / 2), 3)
        return np.ascontiguousarray(rgb[:, :, ::-1])
    return render


@pytest.fixture(scope="module")
def scene(ground):
    return renderer(ground)


@pytest.fixture(scope="module")
def pair(scene):
    """The pair's pictures: left; right turned by SKEW and darker; right as the model expects it."""
    right = scene(SKEW, -1)
    return scene(None, 1), (right.astype(np.float64) * DARKER).astype(np.uint8), scene(None, -1)


def angles(cal: CameraCalibration):
    return cal.pitch_deg, cal.roll_deg, cal.yaw_deg


# -- the file ------------------------------------------------------------------------------------------------

def test_old_files_load_as_before_and_camera_sections_survive_saving_the_pulses(tmp_path):
    path = tmp_path / "car.toml"
    path.write_text(format_calibration(Calibration()))  # a file from before camera sections
    assert load_calibration(path) == Calibration() and load_camera_calibration(path) == {}
    cameras = {"right": CameraCalibration(0.5, -0.25, 1.125, 1.2), "left": CameraCalibration(gain=0.9, exposure=150)}
    save_calibration(Calibration(), path, cameras)
    text = path.read_text()
    assert "[camera.left]" in text and "[camera.right]" in text and "exposure = 150" in text
    assert load_camera_calibration(path) == cameras
    pulses = Calibration(1500, 1200, 1800, 1500, 1650, 1350)
    save_calibration(pulses, path)  # what the console's calibration panel does: the pulses only
    assert load_calibration(path) == pulses and load_camera_calibration(path) == cameras


@pytest.mark.parametrize("section, fault", [
    ("[camera.right]\nyaw_deg = 45\n", "[camera.right] yaw_deg = 45 is outside -20..20 degrees"),
    ("[camera.left]\ngain = \"bright\"\n", "[camera.left] gain must be a number, got 'bright'"),
    ("[camera.front]\ngain = 0\n", "[camera.front] gain = 0 is outside 0.25..4"),
    ("[camera.left]\nexposure = -3\n", "[camera.left] exposure = -3 must be a positive number"),
    ("[camera.right]\nfocus = 2\n", "[camera.right] has no field focus"),
    ("[camera.middle]\ngain = 1\n", "[camera.middle] is not a camera of the car (one of front, left, right)"),
    ("camera = 3\n", "camera must be a section of [camera.ROLE] tables"),
])
def test_bad_camera_sections_are_one_line_naming_the_file_section_and_field(tmp_path, section, fault):
    path = tmp_path / "car.toml"
    text = format_calibration(Calibration())
    path.write_text(section + "\n" + text if section.startswith("camera =") else text + "\n" + section)
    for load in (load_calibration, load_camera_calibration):  # `car drive` and the car service read both
        with pytest.raises(CalibrationError) as err:
            load(path)
        assert str(err.value).startswith(f"{path}: {fault}")
        assert "\n" not in str(err.value)


# -- the correction ------------------------------------------------------------------------------------------

def test_angles_round_trip_through_the_rotation():
    for pitch, roll, yaw in [(1.2, -0.9, 1.5), (-7.0, 3.0, -12.0), (0.0, 0.0, 0.0)]:
        m = mount_rotation(pitch, roll, yaw)
        assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)
        assert mount_angles(m) == pytest.approx((pitch, roll, yaw), abs=1e-9)


def error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference, the border's 4 pixels left out (what a turned camera never saw)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16))[4:-4, 4:-4].mean())


def test_the_front_camera_is_turned_back_to_where_the_model_expects_it(scene):
    """A one-camera model: its camera's mount error undone and its gain applied at the model's 160x120."""
    spec = CameraSpec(160, 120, 1, 1, fov_deg=FOV)
    skewed, expected = (scene(SKEW, 0) * DARKER).astype(np.uint8), convert_frame(scene(None, 0), spec)
    plain = make_stacker(spec).push(skewed)[0].copy()
    fixed = make_stacker(spec, {"front": CameraCalibration(*angles(SKEW), 1 / DARKER)}).push(skewed)[0].copy()
    wrong_way = make_stacker(spec, {"front": CameraCalibration(*(-a for a in angles(SKEW)), 1 / DARKER)}).push(skewed)
    assert error(fixed, expected) < 0.3 * error(plain, expected)
    assert error(fixed, expected) < 0.5 * error(wrong_way[0], expected)  # the signs are the simulator's


# -- measuring it --------------------------------------------------------------------------------------------

def test_the_estimate_recovers_the_skew_and_the_gain(pair):
    left, right, _ = pair
    found = estimate_right_camera(left, right, FOV, distance_m=HEIGHT_M)
    assert angles(found.right) == pytest.approx(angles(SKEW), abs=0.15)
    assert found.right.gain == pytest.approx(1 / DARKER, rel=0.02)
    assert found.inliers > 100 and found.rms_px < 2.0
    # the baseline's parallax (1.4 degrees at 2.5 m) is what --distance takes out of the yaw: without it
    # the yaw is a degree off, the pitch and roll as good
    far = estimate_right_camera(left, right, FOV, distance_m=1e6).right
    assert found.parallax_deg == pytest.approx(math.degrees(math.atan(0.06 / HEIGHT_M)))
    assert abs(far.yaw_deg - SKEW.yaw_deg) > 0.5 and (far.pitch_deg, far.roll_deg) == pytest.approx(
        (SKEW.pitch_deg, SKEW.roll_deg), abs=0.15)


def test_a_scene_of_many_depths_is_measured_within_a_fraction_of_a_degree(ground):
    """The floor seen slanted, 60 degrees below the horizon from 2.5 m up (nearer at the bottom of the
    picture), not square on: each point's parallax is its own. Taken as one distance for all it makes a
    false roll; each point at its own depth, the distance given (along the view's middle) rests on yaw."""
    slanted = renderer(ground, tilt_deg=60.0)
    left, right = slanted(None, 1), slanted(SKEW, -1)
    found = estimate_right_camera(left, right, FOV, distance_m=HEIGHT_M / math.sin(math.radians(60.0)))
    assert angles(found.right) == pytest.approx(angles(SKEW), abs=0.15)
    assert found.right.roll_deg == pytest.approx(SKEW.roll_deg, abs=0.06)


def test_a_left_camera_with_its_own_known_mount_is_the_reference(scene):
    """The right camera's angles are against where the model expects it, not against the left camera: the
    left camera's section (set by hand) is taken into account."""
    left_mount = CameraJitter(pitch_deg=0.5, roll_deg=0.4, yaw_deg=-0.6)
    left, right = scene(left_mount, 1), scene(SKEW, -1)
    found = estimate_right_camera(left, right, FOV, distance_m=HEIGHT_M, left=CameraCalibration(*angles(left_mount)))
    assert angles(found.right) == pytest.approx(angles(SKEW), abs=0.15)
    unaware = estimate_right_camera(left, right, FOV, distance_m=HEIGHT_M)  # as if the left one sat right
    assert max(abs(a - b) for a, b in zip(angles(unaware.right), angles(SKEW))) > 0.4


@pytest.mark.parametrize("side_by_side", [False, True])
def test_calibrate_cameras_measures_the_pair_and_the_car_sees_alike(tmp_path, pair, capsys, side_by_side):
    left, right, unskewed = pair
    if side_by_side:  # one stereo device: both pictures in one frame
        cameras = [str(write_video(tmp_path / "pair.avi", [np.concatenate([left, right], axis=1)] * 4))]
    else:
        cameras = [str(write_video(tmp_path / f"{n}.avi", [p] * 4)) for n, p in (("left", left), ("right", right))]
    out = tmp_path / "car.toml"
    out.write_text(format_calibration(Calibration(throttle_neutral_us=1450)))
    args = ["car", "calibrate-cameras", "--out", str(out), "--distance", str(HEIGHT_M)]
    args += [a for camera in cameras for a in ("--camera", camera)] + (["--stereo-side-by-side"] * side_by_side)
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "right camera against the left: pitch +1.1" in printed or "pitch +1.2" in printed
    assert "features matched" in printed and f"saved [camera.right] to {out}" in printed
    right_cal = load_camera_calibration(out)["right"]
    assert angles(right_cal) == pytest.approx(angles(SKEW), abs=0.2)  # through MJPEG's losses too
    assert right_cal.gain == pytest.approx(1 / DARKER, rel=0.03)
    assert load_calibration(out).throttle_neutral_us == 1450  # the pulses kept

    # the car's stereo input: the corrected right picture is the unskewed one, the uncorrected is not
    spec = CameraSpec(160, 120, 1, 1, fov_deg=FOV, cameras=2)
    mono = CameraSpec(160, 120, 1, 1, fov_deg=FOV)
    expected = convert_frame(unskewed, mono)[:, :, 0]
    plain = make_stacker(spec).push(StereoFrame(left, right))[0, :, :, 1].copy()
    fixed = make_stacker(spec, load_camera_calibration(out)).push(StereoFrame(left, right))[0, :, :, 1]
    assert error(fixed, expected) < 0.3 * error(plain, expected), (error(fixed, expected), error(plain, expected))


def test_too_little_texture_is_one_clear_error(tmp_path, capsys):
    blank = [str(write_video(tmp_path / f"{n}.avi", [np.full((240, 320, 3), 90, np.uint8)] * 4))
             for n in ("left", "right")]
    out = tmp_path / "car.toml"
    assert main(["car", "calibrate-cameras", "--camera", blank[0], "--camera", blank[1], "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "features matched between the two cameras' pictures" in err and "a still scene with texture" in err
    assert not out.exists()
    assert main(["car", "calibrate-cameras", "--camera", blank[0], "--out", str(out)]) == 2
    assert "two cameras (left, then right)" in capsys.readouterr().err


# -- driving with it -----------------------------------------------------------------------------------------

def test_the_drive_loop_sees_each_camera_corrected(tmp_path):
    """A stereo model steering toward the brighter camera, two cameras of the same grey: straight ahead
    without a calibration, left when the file darkens the right camera (exposure on a video file: ignored)."""
    model = make_sensor_model(tmp_path / "stereo.onnx", ("stereo-cameras",))
    grey = str(write_video(tmp_path / "grey.avi", [np.full((120, 160, 3), 128, np.uint8)] * 8))
    path = tmp_path / "car.toml"
    save_calibration(Calibration(), path,
                     {"right": CameraCalibration(gain=0.5), "left": CameraCalibration(exposure=99)})
    steering = {}
    for name, calibration in (("none", None), ("file", str(path))):
        log = tmp_path / f"{name}.csv"
        out = io.StringIO()
        with open_virtual_controller("mm1") as virtual:
            drive(DriveConfig(str(model), virtual.port, "mm1", camera=grey, right_camera=grey, calibration=calibration,
                              log=str(log), duration_s=1.0), out=out)
        rows = [line.split(",") for line in log.read_text().splitlines()[1:]]
        steering[name] = [float(r[3]) for r in rows if r[-1] == "drive"]
        if calibration:
            assert "right camera calibrated: mount pitch +0.00, roll +0.00, yaw +0.00 deg undone, gain 0.500" in \
                out.getvalue()
    assert steering["none"] and all(abs(s) < 0.5 for s in steering["none"])
    # +30 degrees per 255 of brightness between the cameras: 128 against 64
    assert steering["file"] and all(s == pytest.approx(30 * 64 / 255, abs=0.6) for s in steering["file"])
