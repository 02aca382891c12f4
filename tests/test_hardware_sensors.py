"""DeepRacer Evo's sensors on the car: model files with a stereo pair and a LIDAR, the stereo pair's stacking
and pairing by capture time, the LIDAR part (real protocol bytes over a pseudo-terminal) and its stall."""
import json
import time

import numpy as np
import pytest
from onnx import TensorProto

from hardware_helpers import FakeClock, ScriptedCamera, make_sensor_model, metadata, wait_until
from lidar_device import FakeLidar, box
from racekit.hardware.calibration import Calibration
from racekit.hardware.camera import Camera
from racekit.hardware.controllers import open_controller
from racekit.hardware.drive import (LIDAR_AGE, PAIR_SKEW, ActuatorPart, CameraPart, DriveLoop, LidarPart, PilotPart,
                                    SafetyPart, Tick, latency_report)
from racekit.hardware.errors import ModelError
from racekit.hardware.lidar import LIDAR_STALL_S, open_lidar
from racekit.hardware.link import ControllerLink
from racekit.hardware.model import load_policy, parse_metadata
from racekit.hardware.safety import Governor, sensor_mismatch
from racekit.hardware.stereo import StereoCameraPart, StereoFrame, StereoStacker, split_side_by_side
from racekit.hardware.virtual import open_virtual_controller

WAIT = 10.0
CAL = Calibration()


# -- the model file --------------------------------------------------------------

def test_a_stereo_and_lidar_model_loads_and_runs_on_both_inputs(tmp_path):
    weights = [0.0] * 8
    weights[1] = -20.0  # sector 1 (rays 8-15, 68-101 degrees: the car's left) near -> steer right
    policy = load_policy(make_sensor_model(tmp_path / "m.onnx", ("stereo-cameras", "sector-lidar"),
                                           lidar_weights=weights, speed=1.5))
    spec = policy.spec
    assert spec.sensors == ("stereo-cameras", "sector-lidar") and spec.stereo and spec.lidar == "sector-lidar"
    assert (spec.camera.cameras, spec.camera.channels, spec.camera.frame_stack, spec.camera.depth) == (2, 1, 2, 4)
    assert spec.lidar_size == 8 and "sensors" not in spec.extra
    stack = StereoStacker(spec.camera)
    white, black = np.full((24, 32, 3), 255, np.uint8), np.zeros((24, 32, 3), np.uint8)
    frames = stack.push(StereoFrame(white, black))
    assert policy.act(frames, np.zeros(8, np.float32)) == pytest.approx((30.0, 1.5), abs=0.01)
    near_left = np.zeros(8, np.float32)
    near_left[1] = 1.0
    assert policy.act(frames, near_left)[0] == pytest.approx(10.0, abs=0.01)
    with pytest.raises(ModelError, match="needs a sector-lidar observation and got none"):
        policy.act(frames)


def test_a_discretized_lidar_model_reads_its_lidar_config(tmp_path):
    config = {"num_sectors": 4, "num_values_per_sector": 3, "clipping_dist": 1.5}
    spec = load_policy(make_sensor_model(tmp_path / "m.onnx", ("front-camera", "discretized-sector-lidar"),
                                         lidar_config=config)).spec
    assert spec.lidar_size == 12 and (spec.lidar_config.num_sectors, spec.lidar_config.clipping_dist) == (4, 1.5)
    # without a lidar_config, DeepRacer's defaults: 8 sectors x 8 values
    assert load_policy(make_sensor_model(tmp_path / "d.onnx", ("front-camera", "discretized-sector-lidar"))
                       ).spec.lidar_size == 64
    # a model without "sensors" is a front-camera model, as before
    plain = parse_metadata(json.dumps(metadata()))
    assert plain.sensors == ("front-camera",) and plain.lidar is None and not plain.stereo


def _meta(sensors, **changes):
    meta = metadata(sensors=sensors)
    for key, value in changes.items():
        (meta["camera"] if key in ("cameras", "channels") else meta)[key] = value
    return json.dumps(meta)


@pytest.mark.parametrize("sensors, kwargs, fault", [
    (["front-camera", "radar"], {}, "sensors names an unknown sensor 'radar'"),
    (["lidar", "front-camera"], {}, "must be one camera (front-camera or stereo-cameras) first"),
    (["front-camera", "stereo-cameras"], {}, "must be one camera"),
    (["front-camera", "lidar", "sector-lidar"], {}, "at most one LIDAR"),
    (["front-camera", "lidar", "lidar"], {}, "lists a sensor twice"),
    (["front-camera", "sector-lidar"], dict(lidar_size=64), "input 'lidar' has shape ['batch', 64] but the metadata "
                                                            "sensor sector-lidar gives [batch, 8]"),
    (["front-camera", "lidar"], dict(input_names=["frames"]), "expected inputs 'frames' and 'lidar'"),
    (["front-camera", "lidar"], dict(input_names=["frames", "scan"]), "expected inputs 'frames' and 'lidar'"),
    (["front-camera", "lidar"], dict(lidar_type=TensorProto.UINT8), "input 'lidar' is tensor(uint8)"),
    (["front-camera", "lidar"], dict(meta=json.dumps(metadata())), "the metadata sensors name no LIDAR"),
    (["stereo-cameras"], dict(meta=_meta(["stereo-cameras"])), "camera.cameras must be 2"),
    (["stereo-cameras"], dict(channels=3, meta=_meta(["stereo-cameras"], cameras=2, channels=3)), "camera.channels 1"),
    (["front-camera"], dict(meta=_meta(["front-camera"], cameras=2)), "camera.cameras is 2 but the sensors"),
    (["front-camera", "discretized-sector-lidar"], dict(lidar_config={"num_sectors": 7, "num_values_per_sector": 2}),
     "lidar_config num_sectors must divide the 64 LIDAR rays"),
    (["front-camera", "discretized-sector-lidar"], dict(lidar_config={"num_sectors": 8, "bins": 2}),
     "lidar_config has unknown field(s) bins"),
])
def test_refuses_a_sensor_model_breaking_the_contract_naming_file_and_fault(tmp_path, sensors, kwargs, fault):
    path = make_sensor_model(tmp_path / "bad.onnx", tuple(sensors), **kwargs)
    with pytest.raises(ModelError) as err:
        load_policy(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and fault in message and "\n" not in message


def test_sensor_mismatch_says_what_the_car_lacks():
    def spec(sensors):
        meta = metadata(channels=1, sensors=sensors)
        if sensors[0] == "stereo-cameras":
            meta["camera"]["cameras"] = 2
        return parse_metadata(json.dumps(meta))

    lidar_model, stereo, plain = spec(["front-camera", "lidar"]), spec(["stereo-cameras"]), spec(["front-camera"])
    assert sensor_mismatch(lidar_model, 1, False, lidar=True) is None
    assert sensor_mismatch(stereo, 2, False, lidar=False) is None and sensor_mismatch(stereo, 1, True, False) is None
    assert "drives with a LIDAR (lidar; sensors: front-camera, lidar) but the car has none: give --lidar PORT" in \
        sensor_mismatch(lidar_model, 1, False, lidar=False)
    assert "--lidar is given but the model has no LIDAR input" in sensor_mismatch(plain, 1, False, lidar=True)
    assert "stereo-cameras (sensors: stereo-cameras) but the car has one camera" in sensor_mismatch(stereo, 1, False,
                                                                                                   False)
    assert "one front-camera (sensors: front-camera) but the car was given a stereo pair" in \
        sensor_mismatch(plain, 2, False, False)
    assert "side-by-side stereo device is one camera, got 2" in sensor_mismatch(stereo, 2, True, False)


# -- the stereo pair -------------------------------------------------------------

def test_stereo_stack_is_left_then_right_per_frame_oldest_first(tmp_path):
    spec = load_policy(make_sensor_model(tmp_path / "m.onnx", ("stereo-cameras",), width=4, height=4,
                                         frame_stack=3)).spec.camera
    stack = StereoStacker(spec)

    def pair(left, right):  # grey as 1-channel pictures (a stream) and as BGR (a USB camera)
        return StereoFrame(np.full((8, 8, 1), left, np.uint8), np.full((8, 8, 3), right, np.uint8))

    first = stack.push(pair(10, 11))
    assert first.shape == (1, 4, 4, 6) and first[0, 0, 0].tolist() == [10, 11] * 3
    stack.push(pair(20, 21))
    assert stack.push(pair(30, 31))[0, 0, 0].tolist() == [10, 11, 20, 21, 30, 31]
    stack.reset()
    assert stack.push(pair(40, 41))[0, 0, 0].tolist() == [40, 41] * 3
    halves = split_side_by_side(np.concatenate([np.full((4, 6, 3), 1, np.uint8), np.full((4, 6, 3), 2, np.uint8)], 1))
    assert halves.left.shape == halves.right.shape == (4, 6, 3) and halves.left.max() == 1 and halves.right.min() == 2


def test_two_cameras_are_paired_by_capture_time_and_the_skew_is_measured():
    clock = FakeClock()
    # the right camera captures 12 ms after the left one, both at 30 fps; pictures say when they were taken
    left = ScriptedCamera(clock, lambda t: np.full((4, 4, 3), 0, np.uint8), fps=30.0)
    clock.t += 0.012
    right = ScriptedCamera(clock, lambda t: np.full((4, 4, 3), 0, np.uint8), fps=30.0, stall_at=clock.t + 1.0)
    part = StereoCameraPart(left, right)
    pairs = []
    for _ in range(60):  # a 15 Hz loop: two frames of each camera a tick
        clock.t += 1 / 15
        tick = Tick(0, clock.t)
        part.run(tick)
        if tick.frame is not None:
            pairs.append(tick)
    driving = [t for t in pairs if t.fault is None]
    assert len(driving) >= 13
    assert all(t.pair_skew == pytest.approx(0.012, abs=1e-9) for t in driving)  # the nearest frames, not the newest
    assert all(isinstance(t.frame.frame, StereoFrame) for t in driving)
    # the right camera stopped after a second: a camera stall, neutral
    tick = Tick(0, clock.t)
    part.run(tick)
    assert tick.fault == "camera-stall" and tick.frame is None


def test_side_by_side_camera_gives_pairs_without_skew():
    clock = FakeClock()
    sbs = ScriptedCamera(clock, lambda t: np.zeros((4, 8, 3), np.uint8), fps=30.0)
    part = StereoCameraPart(sbs, split=True)
    clock.t += 0.05
    tick = Tick(0, clock.t)
    part.run(tick)
    assert tick.fault is None and tick.pair_skew == 0.0 and tick.frame.frame.left.shape == (4, 4, 3)
    with pytest.raises(ValueError, match="side-by-side camera with split=True"):
        StereoCameraPart(sbs)


def test_latency_report_shows_the_pair_skew_and_the_scan_age():
    stats = {"capture to command": {"n": 10, "p50_ms": 5.0, "p99_ms": 9.0, "max_ms": 9.5},
             PAIR_SKEW: {"n": 10, "p50_ms": 8.0, "p99_ms": 16.0, "max_ms": 16.5},
             LIDAR_AGE: {"n": 10, "p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0}}
    lines = latency_report(stats, {}, 15.0)
    assert "stereo pair skew: p50 8.0 ms, p99 16.0 ms, max 16.5 ms over 10 pairs" in lines
    assert "lidar scan age at the command: p50 50.0 ms, p99 99.0 ms, max 100.0 ms over 10 frames" in lines


# -- the LIDAR in the loop, real time, real bytes ----------------------------------

def test_lidar_part_feeds_the_model_and_a_silent_lidar_is_neutral_until_it_sends_again(tmp_path):
    weights = [0.0] * 8
    weights[1] = -20.0  # sector 1 is the car's left (rays at 68-101 degrees): something near there -> right
    policy = load_policy(make_sensor_model(tmp_path / "m.onnx", ("front-camera", "sector-lidar"),
                                           lidar_weights=weights, speed=2.0))
    frame = np.full((24, 32, 3), 128, np.uint8)
    camera = Camera(lambda: frame, "constant", interval_s=1 / 30).start()
    # a box 0.3 m away at device angle 90: the Evo's backward-facing LIDAR counts clockwise, so the car's left
    fake = FakeLidar(box(90.0, 0.3, width_deg=20.0), samples_per_rev=180, scan_hz=10.0).start()
    lidar = open_lidar(fake.port)
    link = None
    with open_virtual_controller("mm1") as virtual:
        try:
            link = ControllerLink(open_controller("mm1", virtual.port), lambda: open_controller("mm1", virtual.port),
                                  CAL.neutral())
            record = []

            class Probe:
                name, runs_on_stop = "probe", True

                def run(self, tick):
                    record.append((time.monotonic(), tick.command.reason if tick.command else None,
                                   tick.steering_deg))

            parts = [CameraPart(camera), LidarPart(lidar, "sector-lidar"), PilotPart(policy),
                     SafetyPart(Governor(policy.spec.action_space, 0.5)), ActuatorPart(link, CAL), Probe()]
            loop = DriveLoop(parts, 30.0)
            import threading

            done = threading.Event()
            runner = threading.Thread(target=lambda: (loop.run(6.0), done.set()), daemon=True)
            runner.start()
            assert wait_until(lambda: any(r[1] == "drive" for r in record), WAIT)
            silenced = time.monotonic()
            fake.silent = True
            assert wait_until(lambda: any(r[1] == "lidar-stall" for r in record), WAIT)
            last_scan = lidar.latest().t  # the LIDAR has been quiet since
            resumed = time.monotonic()
            fake.silent = False
            assert wait_until(lambda: any(r[1] == "drive" and r[0] > resumed for r in record), WAIT)
            loop.stop.request("test over")
            assert done.wait(WAIT)
        finally:
            if link is not None:
                link.close()
            lidar.stop()
            fake.stop()
            camera.stop()
    steering = [r[2] for r in record if r[1] == "drive"]
    assert steering and all(s == pytest.approx(-20.0, abs=0.01) for s in steering)  # the box on the left seen
    stalled = [r[0] for r in record if r[1] == "lidar-stall"]
    # neutral at the first tick after the stall limit since the last scan (a tick is 33 ms; the rest is slack for
    # a loaded machine), and the LIDAR went quiet after that scan
    assert LIDAR_STALL_S <= stalled[0] - last_scan < LIDAR_STALL_S + 0.2 and last_scan < silenced + 0.1
    assert all(r[1] != "drive" for r in record if stalled[0] <= r[0] <= resumed)
    stats = loop.profiler.stats()
    assert stats[LIDAR_AGE]["max_ms"] < LIDAR_STALL_S * 1000
