"""The stand-in car (sim/standin.py) without wall clock or network: fractions drive the simulated car."""
import math

import numpy as np
import pytest

from racekit.sim.standin import THROTTLE_DEADBAND, StandIn, to_car
from racekit.tracks import load_track

# A 20 x 10 m loop, 3 m wide: a full-lock circle (0.56 m across) fits anywhere, so turning tests never go off.
WIDE_LOOP = """name: wide
width: 3.0
smooth: false
0 0
18 0
20 2
20 8
18 10
2 10
0 8
0 2
"""


@pytest.fixture
def wide(tmp_path):
    path = tmp_path / "wide.track"
    path.write_text(WIDE_LOOP)
    standin = StandIn(load_track(str(path)))
    yield standin
    standin.close()


def drive(standin, steering, throttle, steps):
    events = []
    for _ in range(steps):
        events += standin.step(steering, throttle)
    return events


def yaw_change(after, before) -> float:
    return math.atan2(math.sin(after - before), math.cos(after - before))


def test_the_mapping_is_full_lock_30_degrees_and_full_throttle_4_mps():
    assert to_car(1.0, 1.0) == (30.0, 4.0)
    assert to_car(-0.5, 0.25) == (-15.0, 1.0)
    assert to_car(0.0, -1.0) == (0.0, -4.0)  # reverse, if the pulses say so
    assert to_car(3.0, 7.0) == (30.0, 4.0)  # clamped like a servo's end stops
    assert to_car(0.2, THROTTLE_DEADBAND / 2) == (6.0, 0.0)  # the ESC's deadband: pulse rounding never creeps
    assert to_car(float("nan"), float("nan")) == (0.0, 0.0)


def test_neutral_keeps_the_car_still_and_the_lap_clock_stopped(wide):
    x0, y0, _ = wide.world.car.pose()
    assert drive(wide, 0.0, 0.0, 30) == []
    state = wide.state()
    assert not state.started and state.progress == 0.0 and state.lap_times == ()
    assert math.hypot(state.x - x0, state.y - y0) < 0.01 and state.speed < 0.01
    assert state.sim_time == pytest.approx(2.0)  # simulated time runs while it waits


def test_throttle_moves_it_forward_and_starts_the_clock(wide):
    drive(wide, 0.0, 0.0, 5)
    events = wide.step(0.0, 0.5)
    assert [e.kind for e in events] == ["start"] and events[0].sim_time == pytest.approx(5 / 15)
    drive(wide, 0.0, 0.5, 29)
    state = wide.state()
    assert state.x > 1.5 and abs(state.y) < 0.05 and abs(state.yaw) < 0.05  # 2 m/s along +x for 2 s
    assert state.speed == pytest.approx(2.0, abs=0.15) and state.speed_cmd == 2.0
    assert state.started and state.progress > 0


@pytest.mark.parametrize("steering, sign", [(0.5, +1), (-0.5, -1)])
def test_positive_steering_turns_left_negative_right(wide, steering, sign):
    drive(wide, steering, 0.25, 15)  # 15 degrees at 1 m/s for 1 s
    state = wide.state()
    assert sign * yaw_change(state.yaw, 0.0) > 0.5 and sign * state.y > 0.1
    assert state.steering_deg == pytest.approx(15.0 * sign) and state.offtracks == 0


def test_reverse_throttle_backs_up_without_starting_a_lap(wide):
    drive(wide, 0.0, -0.25, 20)
    state = wide.state()
    assert state.x < -0.5 and not state.started


def test_off_track_puts_the_car_back_with_a_penalty(tmp_path):
    standin = StandIn(load_track("oval"))
    try:
        events = drive(standin, 0.0, 0.75, 45)  # 3 m/s straight on: off at the first bend
    finally:
        state = standin.state()
        standin.close()
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and "off_track" in kinds
    off = events[kinds.index("off_track")]
    assert off.lap == 1 and 5 < off.progress < 40 and off.seconds == 2.0
    assert state.offtracks >= 1
    assert state.sim_time == pytest.approx(45 / 15 + 2.0 * state.offtracks)  # the penalty is simulated time


def test_the_first_lap_is_timed_from_the_first_throttle(tmp_path):
    """Driven by the state-based expert through the fractions, the stand-in laps like the env."""
    from racekit.sim.env import TimeTrialEnv
    from racekit.sim.expert import ExpertDriver, drive_lap

    env = TimeTrialEnv(track="oval")
    try:
        expected = drive_lap(env, ExpertDriver(env, max_speed=2.0))["lap_time"]
    finally:
        env.close()
    standin = StandIn(load_track("oval"))
    try:
        drive(standin, 0.0, 0.0, 10)  # waits on the line first: not part of the lap
        expert = ExpertDriver(_EnvView(standin), max_speed=2.0)
        laps = []
        for _ in range(400):
            steering, speed = expert.act()
            laps += [e for e in standin.step(steering / 30.0, speed / 4.0) if e.kind == "lap"]
            if laps:
                break
    finally:
        standin.close()
    assert laps and laps[0].lap == 1
    assert laps[0].seconds == pytest.approx(expected, rel=0.02)


class _EnvView:
    """What ExpertDriver reads of an env, from a stand-in."""

    def __init__(self, standin):
        from gymnasium import spaces

        self.unwrapped = self
        self.track, self.car_spec, self.world, self.actions = standin.track, standin.car_spec, standin.world, None
        self.action_space = spaces.Box(np.array([-30.0, 0.5], np.float32), np.array([30.0, 4.0], np.float32))
        self._standin = standin

    @property
    def lap(self):
        return self._standin.lap


def test_frames_are_bgr_at_the_requested_size():
    standin = StandIn(load_track("oval"), camera_width=64, camera_height=48)
    try:
        frame = standin.frame()
        from racekit.sim.camera import CameraSpec

        rgb = standin.world.front_camera(CameraSpec(64, 48, 3))
    finally:
        standin.close()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.flags["C_CONTIGUOUS"]
    assert np.array_equal(frame, rgb[:, :, ::-1])  # OpenCV's channel order, as a real camera gives


def test_the_stand_in_camera_can_be_deepracers_in_deepracers_look():
    from racekit.sim.camera import DEEPRACER_MOUNT, CameraSpec
    from racekit.sim.looks import DEEPRACER_SKY

    standin = StandIn(load_track("oval"), camera_width=64, camera_height=48, fov_deg=64.74, camera_mount="deepracer",
                      look="deepracer")
    try:
        frame = standin.frame()
        assert standin.camera == CameraSpec(64, 48, 3, 64.74)
        assert standin.world.car.spec.camera_height == DEEPRACER_MOUNT.height
        assert np.array_equal(frame[0], np.tile(DEEPRACER_SKY[::-1], (64, 1)))  # BGR, as a camera gives
    finally:
        standin.close()
    for kwargs, name in (({"fov_deg": 200}, "fov_deg"), ({"camera_mount": "roof"}, "camera_mount"),
                         ({"look": "mars"}, "look")):
        with pytest.raises(ValueError, match=name):
            StandIn(load_track("oval"), **kwargs)
