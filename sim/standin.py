"""The simulated car as a stand-in for the real one: driven by motor-controller fractions.

`racekit sim serve` (racekit/cli/simserve.py) steps this in real time behind a
virtual motor controller and a camera stream. Here there is no wall clock, no
network and no hardware: `step(steering, throttle)` advances simulated time by
one control period on the same World, car and substeps as TimeTrialEnv, so a
lap driven through the stand-in compares with one in `racekit evaluate`.

From fractions (what hardware/calibration.py makes of the pulses: +1 = full
left / full forward, -1 = full right / full reverse) to the simulated car:
    steering_deg = steering * 30 degrees   (the car's full lock, CarSpec.max_steering_deg)
    speed_mps    = throttle * 4 m/s        (full throttle = the car's top speed, CarSpec.max_speed)
    |throttle| < 2% is neutral             (an ESC's deadband: pulse rounding must not creep the car)
The car runtime's Governor sends throttle = model speed / model max speed * speed
cap, so a model whose top speed is 4 m/s, driven with `--max-speed 1`, gets the
speeds it asks for (at the default cap 0.5 it drives at half of them).

Rules: plain laps from the start line in simulated seconds. The car waits at
rest on the line; the lap clock starts on its first forward throttle. Off the
track (all four wheels off the road) or a crash puts it back at rest in the
nearer lane where it left, after a time penalty, as in DeepRacer's evaluation;
nothing ends the session. Driving backwards or standing still is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racekit.sim.camera import CameraSpec, mounted
from racekit.sim.car import CarSpec
from racekit.sim.lap import LapProgress
from racekit.sim.objects import nearer_lane, pose_at
from racekit.sim.world import SUBSTEPS, World
from racekit.tracks import Track

THROTTLE_DEADBAND = 0.02


@dataclass(frozen=True)
class Event:
    kind: str  # "start", "lap", "off_track" or "crashed"
    sim_time: float
    lap: int  # the lap it happened on (1 = first); for "lap" the lap just completed
    progress: float  # percent of that lap
    seconds: float = 0.0  # "lap": its time; "off_track"/"crashed": the penalty


@dataclass(frozen=True)
class CarState:
    """A snapshot for display and tests (plain numbers: safe to hand to another thread)."""
    sim_time: float
    x: float
    y: float
    yaw: float  # radians, counter-clockwise from +x
    speed: float  # measured ground speed, m/s
    steering_deg: float  # commanded
    speed_cmd: float  # commanded, m/s
    started: bool
    progress: float  # percent of the current lap
    lap_times: tuple[float, ...]
    offtracks: int
    crashes: int


def to_car(steering: float, throttle: float, spec: CarSpec = CarSpec()) -> tuple[float, float]:
    """Fractions -> (steering_deg, speed_mps), the mapping in the module docstring."""
    steering = float(np.clip(steering, -1.0, 1.0)) if np.isfinite(steering) else 0.0
    throttle = float(np.clip(throttle, -1.0, 1.0)) if np.isfinite(throttle) else 0.0
    if abs(throttle) < THROTTLE_DEADBAND:
        throttle = 0.0
    return steering * spec.max_steering_deg, throttle * spec.max_speed


class StandIn:
    def __init__(self, track: Track, camera_width: int = 160, camera_height: int = 120, control_hz: float = 15.0,
                 substeps: int = SUBSTEPS, car_spec: CarSpec = CarSpec(), offtrack_penalty: float = 2.0,
                 crash_penalty: float = 5.0, start_fraction: float = 0.0, fov_deg: float = 120.0,
                 camera_mount: str = "racekit", look: str = "racekit"):
        """fov_deg, camera_mount, look: the camera's lens, where it sits and how the world looks, as
        TimeTrialEnv's arguments of those names (a ValueError names a bad one)."""
        self.track = track
        self.car_spec = car_spec
        self.camera = CameraSpec(camera_width, camera_height, 3, float(fov_deg))
        self.penalties = {"off_track": offtrack_penalty, "crashed": crash_penalty}
        self.start_fraction = start_fraction
        self.world = World(track, mounted(car_spec, camera_mount), control_hz, substeps, look=look)
        self.reset()

    def reset(self) -> None:
        """The car at rest on the start line, the clock at zero, no laps."""
        x, y, yaw = self.track.start_pose(self.start_fraction if self.track.closed else min(self.start_fraction, 0.9))
        self.world.reset_car(x, y, yaw)
        self.lap = LapProgress(self.track, self.world.car.reference_point(), self.world.sim_time)
        self.started = False
        self.counts = {"off_track": 0, "crashed": 0}
        self.command = (0.0, 0.0)

    def step(self, steering: float, throttle: float) -> list[Event]:
        """Apply one command (fractions) for one control period; returns what happened."""
        events = []
        self.command = to_car(steering, throttle, self.car_spec)
        if not self.started and self.command[1] > 0:
            # the lap starts now, from where the car stands: as an evaluation's first step
            self.lap = LapProgress(self.track, self.world.car.reference_point(), self.world.sim_time)
            self.started = True
            events.append(Event("start", self.world.sim_time, 1, 0.0))
        laps_before = len(self.lap.lap_times)
        self.world.step(*self.command)
        self.lap.update(self.world.car.reference_point(), self.world.sim_time)
        if len(self.lap.lap_times) > laps_before and self.started:
            events.append(Event("lap", self.world.sim_time, len(self.lap.lap_times), 100.0, self.lap.lap_times[-1]))
        fault = self._fault()
        if fault is not None:
            events.append(Event(fault, self.world.sim_time, len(self.lap.lap_times) + 1, self.lap.progress,
                                self.penalties[fault]))
            self._put_back(self.penalties[fault])
            self.counts[fault] += 1
        return events

    def _fault(self) -> str | None:
        if not np.any(self.track.is_inside(self.world.car.wheel_points(), near_s=self.lap.s)):
            return "off_track"
        if self.world.crashed():
            return "crashed"
        return None

    def _put_back(self, penalty: float) -> None:
        """At rest in the nearer lane where the car left; the penalty counts in the lap time."""
        s = self.lap.s - self.car_spec.reference_ahead
        self.world.place_car(*pose_at(self.track, s, nearer_lane(self.track, s, self.world.car.pose()[:2])))
        self.world.sim_time += penalty
        self.lap.add_penalty(penalty)

    def frame(self) -> np.ndarray:
        """What the car's camera sees now: BGR uint8 [H, W, 3], as OpenCV gives a real camera's frames."""
        rgb = self.world.front_camera(self.camera)
        return np.ascontiguousarray(rgb[:, :, ::-1])

    def state(self) -> CarState:
        car = self.world.car
        x, y, yaw = car.pose()
        return CarState(self.world.sim_time, x, y, yaw, car.speed(), self.command[0], self.command[1], self.started,
                        self.lap.progress if self.started else 0.0, tuple(self.lap.lap_times),
                        self.counts["off_track"], self.counts["crashed"])

    def close(self) -> None:
        self.world.close()
