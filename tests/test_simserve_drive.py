"""The car runtime drives the simulated car: its serial pulses move it, its camera is the sim's stream.

The simulator side is racekit/simserver.py's SimServer, ticking in real time
in a thread (and, once, the `racekit sim serve` command in a subprocess); the
car side is the real runtime (hardware.service.drive: camera thread, ONNX
model, governor, calibration, serial driver on the pseudo-terminal).
"""
import io
import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from racekit.hardware.calibration import Calibration, save_calibration
from racekit.hardware.camera import open_camera
from racekit.hardware.controllers import open_controller
from racekit.hardware.service import DriveConfig, drive
from hardware_helpers import metadata
from racekit.simserver import SimServer
from simtools import Output
from racekit.tracks import load_track

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20.0
# 20 x 10 m and 3 m wide: the turning runs below never leave the road, so no reset disturbs the heading
WIDE_LOOP = "name: wide\nwidth: 3.0\nsmooth: false\n0 0\n18 0\n20 2\n20 8\n18 10\n2 10\n0 8\n0 2\n"


def constant_model(path, steering_deg: float, speed_mps: float):
    """A racekit model file (80x60 gray, stack 2) that always answers (steering_deg, speed_mps)."""
    init = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
            helper.make_tensor("const", TensorProto.FLOAT, [1, 2], [steering_deg, speed_mps])]
    nodes = [helper.make_node("Cast", ["frames"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["m"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]),  # ties the output's batch to the input's
             helper.make_node("Unsqueeze", ["z", "axis1"], ["z2"]),
             helper.make_node("Add", ["z2", "const"], ["action"])]
    graph = helper.make_graph(nodes, "constant", [helper.make_tensor_value_info("frames", TensorProto.UINT8,
                                                                                ["batch", 60, 80, 2])],
                              [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 2])],
                              initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"racekit": json.dumps(metadata(width=80, height=60))})
    onnx.save(model, str(path))
    return str(path)


class Sim:
    """A SimServer ticking in a thread, and a recorder of its states."""

    def __init__(self, track, controller, calibration=None):
        self.server = SimServer(track, controller, calibration, port=0, out=io.StringIO())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.server.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def drive(self, tmp_path, model, seconds, controller, calibration_file=None):
        """`racekit car drive` for `seconds`; returns the sim's states while it drove (every 20 ms)."""
        states, done = [], threading.Event()

        def record():
            while not done.is_set():
                states.append(self.server.state())
                done.wait(0.02)

        recorder = threading.Thread(target=record, daemon=True)
        recorder.start()
        try:
            drive(DriveConfig(model=model, serial=self.server.serial, controller=controller,
                              camera=self.server.camera_url, max_speed=1.0, calibration=calibration_file,
                              log=str(tmp_path / f"drive{time.monotonic_ns()}.csv"), duration_s=seconds),
                  out=io.StringIO())
        finally:
            done.set()
            recorder.join(timeout=5)
        return states

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        self.server.close()


@pytest.fixture
def wide(tmp_path):
    path = tmp_path / "wide.track"
    path.write_text(WIDE_LOOP)
    return load_track(str(path))


def turned(states) -> float:
    """Total heading change over the recorded states (unwrapped), radians; + = left."""
    total = 0.0
    for a, b in zip(states, states[1:]):
        total += math.atan2(math.sin(b.yaw - a.yaw), math.cos(b.yaw - a.yaw))
    return total


def test_runtime_pulses_steer_and_drive_the_simulated_car(tmp_path, wide):
    sim = Sim(wide, "racekit")
    try:
        start = sim.server.state()
        assert (start.x, start.y, start.speed) == pytest.approx((0.0, 0.0, 0.0), abs=0.01) and not start.started
        camera = open_camera(sim.server.camera_url).start()  # a second viewer, as a person would watch
        try:
            deadline = time.monotonic() + WAIT
            while camera.latest() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            frame = camera.latest().frame
            assert frame.shape == (120, 160, 3) and frame.std() > 5  # a real picture, not a blank
            straight = sim.drive(tmp_path, constant_model(tmp_path / "s.onnx", 0.0, 0.5), 1.5, "racekit")
            left = sim.drive(tmp_path, constant_model(tmp_path / "l.onnx", 15.0, 0.5), 1.5, "racekit")
            right = sim.drive(tmp_path, constant_model(tmp_path / "r.onnx", -15.0, 0.5), 1.5, "racekit")
            assert camera.latest().index > 30 and camera.stream.last.sim_time > 3.0  # frames kept coming
            deadline = time.monotonic() + WAIT  # the runtime's stop sent neutral: the car comes to rest
            while sim.server.state().speed > 0.02 and time.monotonic() < deadline:
                time.sleep(0.02)
            stopped = sim.server.state()
        finally:
            camera.stop()
    finally:
        sim.close()
    moved = straight[-1]
    assert moved.started and moved.x > 0.2 and abs(moved.y) < 0.05 and abs(turned(straight)) < 0.05  # forward
    # what the pulses became in the sim: the model's action, through governor, calibration and back
    assert any(s.steering_deg == pytest.approx(15.0, abs=0.3) and s.speed_cmd == pytest.approx(0.5, abs=0.04)
               for s in left)
    assert turned(left) > 0.3 and left[-1].y > moved.y + 0.05  # left = counter-clockwise, towards +y
    assert turned(right) < -0.3
    assert all(s.offtracks == 0 for s in straight + left + right)
    assert stopped.speed <= 0.02 and stopped.speed_cmd == 0.0 and stopped.steering_deg == 0.0


@pytest.mark.parametrize("controller", ["maestro", "mm1"])
def test_the_same_calibration_file_on_both_ends_maps_back_to_the_models_action(tmp_path, wide, controller):
    # a car whose servo and ESC are mounted the other way round: left and forward are *shorter* pulses
    cal = Calibration(steering_center_us=1500, steering_left_us=1300, steering_right_us=1700,
                      throttle_neutral_us=1500, throttle_forward_us=1650, throttle_reverse_us=1350)
    save_calibration(cal, tmp_path / "car.toml")
    sim = Sim(wide, controller, cal)
    try:
        states = sim.drive(tmp_path, constant_model(tmp_path / "l.onnx", 15.0, 1.0), 1.0, controller,
                           str(tmp_path / "car.toml"))
        pulses = {(round(r.steering_us), round(r.throttle_us)) for r in sim.server.controller.history("command")}
    finally:
        sim.close()
    assert (1400, 1538) in pulses  # 1500 - 0.5 * 200 us; 1500 + 0.25 * 150 us (1 of 4 m/s)
    assert any(s.steering_deg == pytest.approx(15.0, abs=0.3) and s.speed_cmd == pytest.approx(1.0, abs=0.04)
               for s in states)
    assert turned(states) > 0.1


def test_sim_serve_command_shows_the_pty_the_camera_and_an_off_track():
    proc = subprocess.Popen([sys.executable, "-m", "racekit", "sim", "serve", "--track", "oval", "--port", "0",
                             "--controller", "mm1", "--duration", "60"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out = Output(proc.stdout, WAIT)
    try:
        pty_line, url_line = out.wait_for("motor controller (mm1) on /dev/"), out.wait_for("BGR at sim://")
        assert pty_line and url_line, (out.lines, proc.poll())
        port, url = pty_line.split(" on ")[1], url_line.split(" at ")[1]
        assert out.wait_for(f"--serial {port} --controller mm1 --camera {url}")
        camera = open_camera(url).start()
        controller = open_controller("mm1", port)
        try:
            deadline = time.monotonic() + WAIT
            while out.wait_for("off track", 0.0) is None and time.monotonic() < deadline:
                controller.send(*Calibration().pulses(0.0, 0.75))  # 3 m/s straight on: off at the first bend
                time.sleep(1 / 15)
            assert camera.latest() is not None and camera.latest().frame.shape == (120, 160, 3)
        finally:
            controller.close()
            camera.stop()
        assert out.wait_for("the car started: lap clock running", 0.0)
        off = out.wait_for("off track", 0.0)
        assert off and "% of lap 1: put back on the track, +2 s" in off, out.lines
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0, proc.stderr.read()
        assert out.wait_for("stopped (stop requested): no lap completed; off-tracks "), out.lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)
