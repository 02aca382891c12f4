"""Head-to-head: two cars on one track at once, each driven by its own commands and seeing the other.

Beyond DeepRacer's console (its head-to-bot races scripted bots). One World (sim/world.py) holds the
track and car A; car B is a second `Car` in the same PyBullet client, so the two collide through their
own bodies. Each car has its own lap counter (sim/lap.py), race rules and sensors: the PyBullet
renderers ("tiny", "egl") draw the other car's body; the fast renderer draws it as a box of the car's size
and colour (`car_box`) moved to its pose every step, left out of that car's own camera (a car never sees
itself).

## The grid
Car A (the first) on the start line, car B `Grid.stagger` m behind it (default 1 m): side by side in
the two lanes (A in the left lane, B in the right, each halfway between the centre line and a border),
or `Grid.single_file` both on the centre line, one behind the other. Each counts its laps from where it
started, so both drive the same distance; on an open track A starts `stagger` m after the start instead.

## Sensors, cameras and looks
Each car reads the sensors its model was trained with (`sensors`, sim/headtohead_sensors.py): the front
camera or the stereo pair, and at most one LIDAR, which sees the other car's body. Its camera has its own
`CameraSpec` (size, channels, lens), mount (`mounts`: "racekit" or "deepracer", sim/camera.py) and look
(`looks`, sim/looks.py), so a model trained in DeepRacer's simulator races one trained in racekit's, each
seeing what it was trained on. The world (its ground texture, the chase view) has car A's look; car B's
different look is drawn by a fast renderer of its own (the PyBullet renderers have one ground texture, so
with them both cars must see one look).

## Race rules, per car (DeepRacer's evaluation, markov/agent_ctrl/rollout_agent_ctrl.py)
Off the track (all four wheels), driving backwards (15 steps) or stuck (15 steps) puts the car back at
rest in the nearer lane where it was and holds it there for the penalty (`offtrack_penalty`). A contact
between the cars is a crash for the car behind (along the track): it hit the other, which goes on; the car
behind stands out `crash_penalty` where it hit, at rest. A car held for a penalty is, as DeepRacer's
blinking car, not collidable with the other car, which drives on through it (even where it was put down on
top of it); collisions come back once the penalty is over and the two no longer overlap.
The race clock is one for both cars, so a penalty is time the other car drives on, and it counts in the
penalised car's lap time. More than `max_resets` resets is a DNF. Every contact is recorded as (time,
lap, hitter, hit, x, y).
A car that has done its laps (or is out: DNF) leaves the track, so it is no obstacle to the other.
The heat ends when both are done, or at `max_steps`.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pybullet as p

from racekit.sim.camera import MOUNTS, CameraSpec, mounted
from racekit.sim.car import Car, CarSpec
from racekit.sim.env import PROGRESS_FALLING_STEPS, STUCK_DISTANCE, STUCK_STEPS
from racekit.sim.headtohead_sensors import CAR_BOX, CarSensors, LidarShell, car_box
from racekit.sim.lap import LapProgress
from racekit.sim.objects import along, lane_offset, nearer_lane, pose_at
from racekit.sim.looks import LOOKS, look_ground, look_sky
from racekit.sim.render import make_renderer
from racekit.sim.world import SUBSTEPS, World

CAR_RGB = [(70, 160, 255), (250, 140, 0)]  # car A light blue, car B orange: bright on the road, in gray too
PARK_M = 100.0  # a car that is done waits this far off the track's bounds


@dataclass(frozen=True)
class Grid:
    """Where the two cars start: B `stagger` m behind A, side by side in the two lanes or in single file."""

    stagger: float = 1.0
    single_file: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.stagger) and 0 <= self.stagger <= 10):
            raise ValueError(f"stagger must be 0 to 10 m, got {self.stagger}")
        if self.single_file and self.stagger < CAR_BOX[0] + 0.05:
            raise ValueError(f"single file needs a stagger of at least {CAR_BOX[0] + 0.05:g} m (one car length), "
                             f"got {self.stagger}")


@dataclass
class Contact:
    sim_time: float
    lap: int  # the hitter's lap, 1-based
    hitter: int  # 0 (car A) or 1 (car B): the car behind
    hit: int
    x: float
    y: float


@dataclass
class Racer:
    """One car's state in the heat."""

    index: int
    car: Car
    camera: CameraSpec
    frame_stack: int
    sensors: CarSensors
    lap: LapProgress | None = None
    counts: dict = field(default_factory=lambda: {"offtracks": 0, "crashes": 0, "resets": 0})
    frames: deque = field(default_factory=deque)
    falling: int = 0
    still: int = 0
    last_xy: np.ndarray = field(default_factory=lambda: np.zeros(2))
    hold_until: float = 0.0  # held at rest (a penalty) until this race time
    passing_through: bool = False  # since a penalty, not collidable with the other car until clear of it
    termination: str | None = None  # lap_complete, dnf, max_steps once the car is done
    finish_time: float | None = None
    parked: bool = False

    @property
    def done(self) -> bool:
        return self.termination is not None

    def observation(self):
        """What its model reads: the stacked frames, or with a LIDAR the env's dict keyed by sensor."""
        return self.sensors.observation(np.concatenate(self.frames, axis=2) if self.frame_stack > 1
                                        else self.frames[-1])


class HeadToHead:
    """Two cars racing one track at once (see the module docstring).

    `sensors`: each car's sensor list (sim/sensors.py's names; default the front camera), `lidar_configs` each
    car's discretised LIDAR's config (None: DeepRacer's). `reset()` returns (observations, infos), one per car
    (an array, or for a car with a LIDAR a dict keyed by sensor); `step([(steering_deg, speed), (steering_deg,
    speed)])` returns (observations, infos, done). A car that is done ignores its command. Each info: progress,
    lap_times, sim_time, offtracks, crashes, resets, holding (held for a penalty), termination, finish_time,
    x, y (the reference point), speed, and events: this step's {"kind": "off_track" | "crash" | "reset",
    "lap", "x", "y", "progress", "penalty", "resets", "dnf", "hit": the car it hit or None}, {"kind": "lap",
    "lap", "seconds", "x", "y"}. `contacts` lists every contact so far.
    """

    def __init__(self, track, cameras: list[CameraSpec], frame_stacks: list[int], laps: int = 1,
                 offtrack_penalty: float = 2.0, crash_penalty: float = 5.0, max_resets: int | None = 20,
                 control_hz: float = 15.0, substeps: int = SUBSTEPS, renderer: str = "fast", grid: Grid = Grid(),
                 car_spec: CarSpec = CarSpec(), max_steps: int | None = None, max_speed: float = 4.0,
                 mounts=("racekit", "racekit"), looks=("racekit", "racekit"),
                 sensors=(("front-camera",), ("front-camera",)), lidar_configs=(None, None)):
        if any(len(v) != 2 for v in (cameras, frame_stacks, mounts, looks, sensors, lidar_configs)):
            raise ValueError("a head-to-head heat has two cars")
        for mount in mounts:
            if mount not in MOUNTS:
                raise ValueError(f"camera mount must be one of {', '.join(MOUNTS)}, got {mount!r}")
        for look in looks:
            if look not in LOOKS:
                raise ValueError(f"look must be one of {', '.join(LOOKS)}, got {look!r}")
        if looks[0] != looks[1] and renderer != "fast":
            raise ValueError(f"the cars see different looks ({looks[0]}, {looks[1]}): only the fast renderer draws "
                             f"two, not {renderer!r}")
        self.track, self.laps, self.grid, self.car_spec = track, laps, grid, car_spec
        self.max_resets = max_resets
        self.penalties = {"off_track": offtrack_penalty, "reversed": offtrack_penalty, "stuck": offtrack_penalty,
                          "crashed": crash_penalty}
        self.world = World(track, mounted(car_spec, mounts[0]), control_hz, substeps, renderer=renderer, look=looks[0])
        second = Car(self.world.client, mounted(car_spec, mounts[1]))
        for car, rgb in zip((self.world.car, second), CAR_RGB):
            p.changeVisualShape(car.body, -1, rgbaColor=[c / 255 for c in rgb] + [1], physicsClientId=self.world.client)
        cars = (self.world.car, second)
        self.racers = [Racer(i, car, cam, stack, CarSensors(self.world, car, cam, car_sensors, config, seed=i))
                       for i, (car, cam, stack, car_sensors, config) in
                       enumerate(zip(cars, cameras, frame_stacks, sensors, lidar_configs))]
        self.shells = LidarShell.for_cars(self.world.client, cars, CAR_BOX[:2])  # what a LIDAR sees of the cars
        self.draw_other = self.world.renderer.name == "fast"  # the PyBullet renderers draw the bodies
        self.renderers = [self.world.renderer] * 2  # each car's front camera
        if looks[1] != looks[0]:
            self.renderers[1] = make_renderer("fast", self.world.client, look_ground(track, looks[1]),
                                              self.world.renderer.light, look_sky(looks[1]))
        slowest = 0.5
        self.max_steps = max_steps or int((2 * laps * track.length / slowest
                                           + (max_resets or 0) * max(self.penalties.values())) * control_hz)
        self.max_speed = max_speed
        self.contacts: list[Contact] = []
        self._steps = 0

    @property
    def cars(self) -> list[Car]:
        return [r.car for r in self.racers]

    # -- the heat ---------------------------------------------------------------------------------------
    def reset(self):
        world, track = self.world, self.track
        self._steps = 0
        self.contacts = []
        start = 0.0 if track.closed else self.grid.stagger
        poses = []
        for racer, s, lane in ((self.racers[0], start, 1.0), (self.racers[1], start - self.grid.stagger, -1.0)):
            poses.append(pose_at(track, s, 0.0 if self.grid.single_file else lane_offset(track, s, lane)))
            racer.counts = {"offtracks": 0, "crashes": 0, "resets": 0}
            racer.falling = racer.still = 0
            racer.hold_until, racer.termination, racer.finish_time, racer.parked = 0.0, None, None, False
            racer.passing_through = False
        self._collide(True)
        self.racers[1].car.reset(*poses[1])
        world.reset_car(*poses[0])  # car A, then the physics settles both on their wheels; the clock at zero
        for shell in self.shells:
            shell.follow()
        for racer in self.racers:
            racer.car.moved()
            racer.lap = LapProgress(track, racer.car.reference_point())
            racer.last_xy = np.array(racer.car.pose()[:2])
            racer.frames = deque([self._camera(racer)] * racer.frame_stack, maxlen=racer.frame_stack)
            racer.sensors.scan()
        return [r.observation() for r in self.racers], [self._info(r, []) for r in self.racers]

    def step(self, actions):
        world = self.world
        commands = []
        for racer, (steering, speed) in zip(self.racers, actions):
            if racer.done or world.sim_time < racer.hold_until - 1e-9:
                commands.append((0.0, 0.0))  # parked, or held for a penalty
            else:
                commands.append((float(steering), float(np.clip(speed, -self.max_speed, self.max_speed))))
        self.racers[1].car.command(*commands[1])
        world.step(*commands[0])  # car A's command, then one control period of physics for both
        self.racers[1].car.moved()
        self._steps += 1

        for racer in self.racers:  # a penalty over, and clear of the other car: collidable again
            if racer.passing_through and world.sim_time >= racer.hold_until - 1e-9 and not self._overlapping():
                racer.passing_through = False
                if not any(r.passing_through for r in self.racers):  # one pair filter: both must be done with it
                    self._collide(True)
        touching = self._touching()
        events = [[], []]
        for racer in self.racers:
            if not racer.done:
                events[racer.index] = self._rules(racer, touching)
        if self._steps >= self.max_steps:
            for racer in self.racers:
                if not racer.done:
                    racer.termination = "max_steps"
        for racer in self.racers:
            if racer.done and not racer.parked:
                self._park(racer)
        for shell in self.shells:  # where the cars are now: driven, put back or parked
            shell.follow()
        for racer in self.racers:
            if not racer.done:
                racer.frames.append(self._camera(racer))
                racer.sensors.scan()
        done = all(r.done for r in self.racers)
        return ([r.observation() for r in self.racers], [self._info(r, e) for r, e in zip(self.racers, events)],
                done)

    def close(self) -> None:
        self.world.close()

    # -- helpers ----------------------------------------------------------------------------------------
    def _rules(self, racer: Racer, touching: bool) -> list[dict]:
        """One car's step under race rules: its lap, then what puts it back; returns its events."""
        car, lap, world = racer.car, racer.lap, self.world
        before, laps_before = lap.travelled, len(lap.lap_times)
        lap.update(car.reference_point(), world.sim_time)
        events = []
        if len(lap.lap_times) > laps_before:
            ref = car.reference_point()
            events.append({"kind": "lap", "lap": len(lap.lap_times), "seconds": lap.lap_times[-1],
                           "x": float(ref[0]), "y": float(ref[1])})
        if len(lap.lap_times) >= self.laps:
            racer.termination, racer.finish_time = "lap_complete", float(sum(lap.lap_times))
            return events
        x, y, _ = car.pose()
        holding = world.sim_time < racer.hold_until - 1e-9
        moved = float(np.hypot(x - racer.last_xy[0], y - racer.last_xy[1]))
        racer.last_xy = np.array([x, y])
        if holding:  # at rest for a penalty: neither stuck nor to blame for being hit
            racer.falling = racer.still = 0
            return events
        racer.falling = racer.falling + 1 if lap.travelled < before - STUCK_DISTANCE else 0
        racer.still = racer.still + 1 if moved < STUCK_DISTANCE else 0
        other = self.racers[1 - racer.index]
        hit = None
        if touching and along(self.track, self._centre_s(racer), self._centre_s(other)) > 0:
            hit = other.index  # the other car is ahead: this one ran into it
        kind = None
        if not np.any(self.track.is_inside(car.wheel_points(), near_s=lap.s)):
            kind = "off_track"
        elif hit is not None:
            kind = "crashed"
        elif racer.falling >= PROGRESS_FALLING_STEPS:
            kind = "reversed"
        elif racer.still >= STUCK_STEPS:
            kind = "stuck"
        if kind is None:
            return events
        ref = car.reference_point()
        if hit is not None:  # the contact is recorded even when the car also left the road
            self.contacts.append(Contact(float(world.sim_time), len(lap.lap_times) + 1, racer.index, hit,
                                         float(ref[0]), float(ref[1])))
        if kind in ("off_track", "crashed"):
            racer.counts["offtracks" if kind == "off_track" else "crashes"] += 1
        penalty = self.penalties[kind]
        racer.counts["resets"] += 1
        dnf = self.max_resets is not None and racer.counts["resets"] > self.max_resets
        events.append({"kind": {"off_track": "off_track", "crashed": "crash"}.get(kind, "reset"),
                       "lap": len(lap.lap_times) + 1, "x": float(ref[0]), "y": float(ref[1]),
                       "progress": float(lap.progress), "penalty": penalty, "resets": racer.counts["resets"],
                       "dnf": dnf, "hit": hit})
        if dnf:
            racer.termination = "dnf"
        else:
            self._hold(racer, penalty, racer.car.pose() if kind == "crashed" else self._lane_spot(racer))
        return events

    def _lane_spot(self, racer: Racer) -> tuple[float, float, float]:
        """The pose in the nearer lane where the car is, facing along the track."""
        s = self._centre_s(racer)
        return pose_at(self.track, s, nearer_lane(self.track, s, racer.car.pose()[:2]))

    def _hold(self, racer: Racer, penalty: float, pose: tuple[float, float, float]) -> None:
        """At rest at `pose` for the penalty, not collidable with the other car (DeepRacer's blinking car, which
        blinks only for a penalty above 0 s)."""
        racer.car.reset(*pose)
        racer.hold_until = self.world.sim_time + penalty
        racer.falling = racer.still = 0
        racer.last_xy = np.array(pose[:2])
        if penalty > 0:
            racer.passing_through = True
            self._collide(False)

    def _park(self, racer: Racer) -> None:
        """A car that is done leaves the track (far off its bounds), out of the other's way and view."""
        xmin, ymin, _, _ = self.track.bounds()
        racer.car.reset(xmin - PARK_M, ymin - PARK_M - 2.0 * racer.index, 0.0)
        racer.parked = True

    def _touching(self) -> bool:
        a, b = self.racers
        if a.done or b.done:
            return False
        return a.car.touching([b.car.body])

    def _overlapping(self) -> bool:
        a, b = self.racers
        return a.car.overlapping([b.car.body])

    def _collide(self, enable: bool) -> None:
        a, b = self.racers
        a.car.collide_with(b.car.body, enable)

    def _centre_s(self, racer: Racer) -> float:
        """Where the car's centre is along the track (its lap counter follows the reference point)."""
        return racer.lap.s - self.car_spec.reference_ahead

    def _camera(self, racer: Racer) -> np.ndarray:
        """The car's camera (or stereo pair): the world's boxes, and the other car (unless it has left the track)."""
        boxes = list(self.world.standing) + list(getattr(self.world, "scenery", ()))
        other = self.racers[1 - racer.index]
        if self.draw_other and not other.parked:
            boxes.append(car_box(other.car, CAR_RGB[other.index]))
        return racer.sensors.picture(self.renderers[racer.index], boxes)

    def _info(self, racer: Racer, events: list[dict]) -> dict:
        lap = racer.lap
        ref = racer.car.reference_point() if not racer.parked else np.array([math.nan, math.nan])
        return {"progress": 100.0 if racer.termination == "lap_complete" else float(lap.progress),
                "lap_times": list(lap.lap_times), "sim_time": float(self.world.sim_time), **racer.counts,
                "holding": self.world.sim_time < racer.hold_until - 1e-9, "termination": racer.termination,
                "finish_time": racer.finish_time, "x": float(ref[0]), "y": float(ref[1]),
                "speed": 0.0 if racer.parked else float(racer.car.speed()), "events": events}

    def standings(self) -> list[int]:
        """Car indices in finishing order: finished by finish time, then the rest by laps and progress."""
        def key(r: Racer):
            if r.termination == "lap_complete":
                return (0, r.finish_time, 0.0)
            return (1, -len(r.lap.lap_times), -r.lap.progress)
        return [r.index for r in sorted(self.racers, key=key)]
