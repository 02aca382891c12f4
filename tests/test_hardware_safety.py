"""Safety, case by case: the governor's rules, and the car loop going neutral on every fault.

The loop runs on a simulated clock (FakeClock) with a scripted camera, so the
time from a fault to the neutral command is measured exactly in loop time;
the commands still travel through a real driver and pseudo-terminal to a
software controller. Real-time bounds are asserted only in-process.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from racekit.hardware.calibration import Calibration
from racekit.hardware.controllers import open_controller
from racekit.hardware.drive import ActuatorPart, CameraPart, DriveLoop, LogPart, PilotPart, SafetyPart
from racekit.hardware.link import ControllerLink
from racekit.hardware.model import ActionSpace, load_policy
from racekit.hardware.safety import EStop, Governor, StopRequest, check_speed_cap
from racekit.hardware.virtual import open_virtual_controller
from hardware_helpers import FakeClock, ScriptedCamera, half_bright, make_model

WAIT = 10.0
CAL = Calibration()
NEUTRAL = CAL.neutral()
SPACE = ActionSpace("continuous", (-30.0, 30.0), (0.5, 4.0))


# -- the governor's rules ------------------------------------------------------

def test_speed_cap_must_be_in_0_1():
    assert check_speed_cap(0) == 0 and check_speed_cap(1) == 1.0 and check_speed_cap(0.5) == 0.5
    for bad in (-0.1, 1.01, float("nan"), float("inf"), True, "0.5"):
        with pytest.raises(ValueError, match=r"speed cap must be a number in \[0, 1\]"):
            check_speed_cap(bad)


def test_governor_scales_speed_by_the_cap_and_never_reverses():
    gov = Governor(SPACE, speed_cap=0.5)
    cmd = gov.command(15.0, 2.0)
    assert (cmd.steering, cmd.throttle, cmd.reason) == (0.5, 0.25, "drive")
    assert gov.command(0, 4.0).throttle == 0.5 and gov.command(0, 40.0).throttle == 0.5  # the cap holds
    assert gov.command(0, -3.0).throttle == 0.0  # a model asking for reverse gets standstill
    assert gov.command(-90, 1).steering == -1.0  # beyond the action space: full lock, no further
    assert Governor(SPACE, 0).command(0, 4).throttle == 0.0
    assert gov.command(float("nan"), 1).is_neutral and gov.command(0, float("inf")).reason == "model-error"


def test_never_reverse_even_with_a_negative_speed_range():
    gov = Governor(ActionSpace("continuous", (-30, 30), (-1.0, 2.0)), speed_cap=1.0)
    assert gov.command(0, -1.0).throttle == 0.0
    assert CAL.throttle_us(gov.command(0, -1.0).throttle) == CAL.throttle_neutral_us


# -- the loop on a simulated clock ---------------------------------------------

class Probe:
    """A part at the end of the loop: records each tick (and real time), and can act at a tick."""

    name = "probe"
    runs_on_stop = True

    def __init__(self, action=None):
        self.ticks, self.real_t, self.action = [], [], action

    def run(self, tick):
        self.ticks.append(tick)
        self.real_t.append(time.monotonic())
        if self.action and not (tick.fault or "").startswith("stop"):
            self.action(tick)


@pytest.fixture
def car(tmp_path):
    """Factory: a loop of real parts driving a virtual mm1 controller on a pty."""
    made = []

    def build(picture=lambda t: half_bright(48, 64, "left"), stall_at=float("inf"), model=None, cap=0.5,
              action=None, estop=None, port=None, virtual=None):
        clock = FakeClock()
        virtual = virtual or open_virtual_controller("mm1")
        made.append(virtual)
        path = port or virtual.port
        # A long write timeout: pyserial's timeout is wall time, and a loaded test machine
        # must not turn a healthy pty into a "lost port" in this simulated-time loop.
        opener = lambda: open_controller("mm1", path, clock=clock, write_timeout_s=10)  # noqa: E731
        link = ControllerLink(opener(), opener, NEUTRAL, clock=clock)
        policy = load_policy(model or make_model(tmp_path / "m.onnx"))
        probe = Probe(action)
        log_part = LogPart(str(tmp_path / "drive.csv"), clock())
        parts = [CameraPart(ScriptedCamera(clock, picture, stall_at=stall_at)), PilotPart(policy),
                 SafetyPart(Governor(policy.spec.action_space, cap)), ActuatorPart(link, CAL), log_part, probe]
        loop = DriveLoop(parts, 15, stop=StopRequest(), estop=EStop(estop), clock=clock, sleep=clock.sleep,
                         emergency_neutral=link.send_neutral)
        return loop, probe, virtual, link, clock

    yield build
    for v in made:
        v.stop()


def last_command(virtual, probe):
    """The last command the controller got, once all the loop wrote has arrived (mm1: one record a command)."""
    sent = sum(t.sends for t in probe.ticks)
    assert virtual.wait_for(lambda h: sum(r.source == "command" for r in h) >= sent, WAIT)
    commands = virtual.history("command")
    assert len(commands) == sent
    return commands[-1].steering_us, commands[-1].throttle_us


def test_loop_drives_at_the_model_rate_then_stops_neutral(car, tmp_path):
    loop, probe, virtual, link, clock = car(cap=0.5)
    start = clock()
    assert loop.run(duration_s=2.0) == "duration"
    driving = [t for t in probe.ticks if t.command.reason == "drive"]
    assert len(probe.ticks) == 31 and len(driving) == 30  # 15 Hz for 2 s, plus the stop tick
    assert np.allclose(np.diff([t.t for t in probe.ticks[:-1]]), 1 / 15)
    # Bright left half: steer left; 2 m/s of 4 m/s at cap 0.5 -> a quarter of full forward.
    assert driving[0].pulses == pytest.approx((1700, 1446 - 0.25 * 135))
    assert probe.ticks[-1].pulses == NEUTRAL and probe.ticks[-1].command.reason == "stop: duration"
    assert last_command(virtual, probe) == NEUTRAL
    assert virtual.wait_for(lambda h: any(r.steering_us == 1700 and r.throttle_us == 1412 for r in h), WAIT)
    rows = (tmp_path / "drive.csv").read_text().splitlines()
    assert len(rows) == 1 + 31 and rows[-1].endswith("1450,1446,2,stop: duration")
    assert clock() - start == pytest.approx(2.0, abs=0.07)
    assert "missed deadlines: 0" in loop.profiler.report()
    assert set(loop.profiler.stats()) >= {"camera", "model", "safety", "serial", "log", "tick (all parts)"}


def test_pulses_stay_in_the_calibrated_range_whatever_the_model_says(car, tmp_path):
    model = make_model(tmp_path / "wild.onnx", gain=1000.0, speed=99.0)
    loop, probe, virtual, *_ = car(model=model, cap=1.0)
    loop.run(duration_s=0.5)
    steering, throttle = probe.ticks[2].pulses
    assert steering == 1700 and throttle == 1311  # full left, full forward: not one microsecond beyond


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGUSR1"])
def test_signals_stop_the_loop_with_neutral_at_once(car, signame):
    stop = StopRequest().install()
    try:
        def send_signal(tick):
            if tick.index == 5:
                os.kill(os.getpid(), getattr(signal, signame))

        loop, probe, virtual, *_ = car(action=send_signal)
        loop.stop = stop
        reason = loop.run(duration_s=10)
    finally:
        stop.uninstall()
    assert reason == ("e-stop (SIGUSR1)" if signame == "SIGUSR1" else signame)
    final = probe.ticks[-1]
    assert final.pulses == NEUTRAL and final.index == 6  # the very next thing after tick 5
    assert final.t == probe.ticks[-2].t  # no sleep in between: neutral in the same instant of loop time
    assert probe.real_t[-1] - probe.real_t[-2] < 0.1
    assert last_command(virtual, probe) == NEUTRAL


def test_an_exception_in_the_loop_sends_neutral_then_propagates(car):
    def explode(tick):
        if tick.index == 4:
            raise RuntimeError("bug in a part")

    loop, probe, virtual, *_ = car(action=explode)
    with pytest.raises(RuntimeError, match="bug in a part"):
        loop.run(duration_s=10)
    final = probe.ticks[-1]
    assert final.command.reason.startswith("stop: exception") and final.pulses == NEUTRAL
    assert final.t == probe.ticks[-2].t and probe.real_t[-1] - probe.real_t[-2] < 0.1
    assert last_command(virtual, probe) == NEUTRAL


def test_camera_stall_goes_neutral_within_100_ms_of_200_ms_without_frames(car):
    loop, probe, virtual, link, clock = car(stall_at=1000.0 + 1.0)
    loop.run(duration_s=2.0)
    last_frame_t = 1000.0 + 30 / 30.0  # frames at 30 fps until the stall
    stalled = [t for t in probe.ticks if t.fault == "camera-stall"]
    assert stalled, "the stall was never noticed"
    first = stalled[0]
    assert 0.2 <= first.t - last_frame_t < 0.2 + 0.1
    assert first.pulses == NEUTRAL and first.command.reason == "camera-stall"
    assert [(t.index, t.pulses, t.fault) for t in probe.ticks if t.t >= first.t and t.pulses != NEUTRAL] == []
    assert all(t.command.reason == "drive" for t in probe.ticks if 1000.05 < t.t < last_frame_t + 0.2)


def test_model_error_goes_neutral_in_the_same_tick_and_recovers(car, tmp_path):
    model = make_model(tmp_path / "fragile.onnx", nan_below=20)  # NaN output on a dark picture

    def picture(t):
        return np.zeros((48, 64, 3), np.uint8) if 1001.0 <= t < 1001.5 else half_bright(48, 64, "left")

    loop, probe, virtual, *_ = car(model=model, picture=picture)
    loop.run(duration_s=2.5)
    faulty = [t for t in probe.ticks if t.fault == "model-error"]
    assert faulty and faulty[0].t - 1001.0 < 1 / 15 + 1e-9  # the first tick that saw a dark frame
    assert all(t.pulses == NEUTRAL for t in faulty)
    assert probe.ticks[-2].command.reason == "drive" and probe.ticks[-2].pulses[0] == 1700  # recovered
    assert loop.parts[1].errors >= 1


def test_estop_file_from_a_second_process_stops_the_car(car, tmp_path):
    estop = tmp_path / "estop"

    def touch_from_another_process(tick):
        if tick.index == 3:
            subprocess.run([sys.executable, "-c", f"open({str(estop)!r}, 'w').close()"], check=True, timeout=30)

    loop, probe, virtual, *_ = car(action=touch_from_another_process, estop=str(estop))
    assert loop.run(duration_s=10) == f"e-stop file {estop}"
    assert probe.ticks[-1].index == 4 and probe.ticks[-1].pulses == NEUTRAL
    assert last_command(virtual, probe) == NEUTRAL


def test_estop_signal_from_a_second_process_stops_the_car(car):
    stop = StopRequest().install()
    try:
        def kill_from_another_process(tick):
            if tick.index == 3:
                code = f"import os, signal; os.kill({os.getpid()}, signal.SIGUSR1)"
                subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
                deadline = time.monotonic() + WAIT  # delivery is asynchronous: wait for the handler
                while not stop.requested and time.monotonic() < deadline:
                    time.sleep(0.001)

        loop, probe, virtual, *_ = car(action=kill_from_another_process)
        loop.stop = stop
        assert loop.run(duration_s=10) == "e-stop (SIGUSR1)"
    finally:
        stop.uninstall()
    assert probe.ticks[-1].pulses == NEUTRAL and last_command(virtual, probe) == NEUTRAL


def test_lost_serial_port_is_retried_with_back_off_and_never_drives_blind(car, tmp_path, caplog):
    port = tmp_path / "ttyCAR"  # like a /dev/serial/by-id/ link that udev removes and re-creates
    first = open_virtual_controller("mm1")
    port.symlink_to(first.port)
    state = {}

    def cable(tick):
        if tick.index == 10:  # pull the cable: the device node goes away
            first.disconnect()
            port.unlink()
            port.symlink_to(tmp_path / "gone")
        if tick.index == 40:  # plug it back in: a new device behind the same link
            state["second"] = open_virtual_controller("mm1")
            port.unlink()
            port.symlink_to(state["second"].port)

    loop, probe, _, link, clock = car(port=str(port), virtual=first, action=cable)
    with caplog.at_level("WARNING", logger="racekit.hardware.link"):
        loop.run(duration_s=5.0)
    second = state["second"]
    try:
        down = [t for t in probe.ticks if t.pulses is None]
        assert down and down[0].index in (10, 11)  # the first failed write
        assert link.failures == 1 and link.reconnects == 1
        assert link.retry_delays[:4] == [0.2, 0.4, 0.8, 1.6]  # exponential back-off
        assert any("reconnect attempt 1 failed" in r.message for r in caplog.records)
        assert any("serial port reopened" in r.message for r in caplog.records)
        # First command on the new port is neutral, then driving resumes.
        assert second.wait_for(lambda h: len(h) >= 3, WAIT)
        received = [(r.steering_us, r.throttle_us) for r in second.history("command")]
        assert received[0] == NEUTRAL and received[1] == (1700, 1412)
        assert probe.ticks[-1].pulses == NEUTRAL
        # While the port was down nothing was sent, and the first controller's own failsafe held neutral.
        assert first.wait_for(lambda h: h[-1].source == "failsafe", WAIT)
        assert first.pulses == NEUTRAL
    finally:
        second.stop()
