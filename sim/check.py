"""`racekit reward check`: run a reward function on DeepRacer's five validation states and on real sim steps.

With a race type that has objects (object-avoidance, head-to-bot), the states have that race's objects
and the sim steps are driven in an env of that race type.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from racekit.sim.car import CarSpec
from racekit.sim.objects import (BOT_GAP, BOT_SPEED, END_MARGIN, ObjectOptions, ObjectState, along, lane_offset,
                                 lane_pose)
from racekit.sim.params import StepState, reward_params
from racekit.sim.reward import RewardFunction

TIME_LIMIT_S = 5.0  # DeepRacer's validator gives each call 5 s
# DeepRacer accepts any finite reward; beyond this size the check warns, since such values tend to
# swamp every other reward in training
LARGE_REWARD = 1e5
STATE_FRACTIONS = (0.0, 0.3, 0.6, 0.999)  # of the lap: where the validation states put the car
CAMERA_RANGE_M = 3.0  # in the validation states, an object up to this far ahead counts as in the camera


def wheel_layout(x: float, y: float, yaw: float, spec: CarSpec = CarSpec()) -> np.ndarray:
    """(4, 2) wheel centres of a car at (x, y, yaw): left front, right front, left rear, right rear."""
    half_base, half_track = spec.wheelbase / 2, spec.track_width / 2
    local = np.array([[half_base, half_track], [half_base, -half_track], [-half_base, half_track],
                      [-half_base, -half_track]])
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([x, y]) + local @ np.array([[c, s], [-s, c]])


def synthetic_objects(track, race_type: str = "time-trial") -> list[ObjectState]:
    """The objects of the validation states: the track's obstacles, then the race type's default boxes or
    bots laid out as DeepRacer does without randomisation (evenly from the start line, lanes alternating)."""
    objects = [ObjectState(x, y, 0.0, 0.0, False) for x, y, _ in track.obstacles]
    options = ObjectOptions(race_type)
    bots = race_type == "head-to-bot"
    gap = BOT_GAP if bots else options.object_min_gap
    cars = [f * track.length for f in STATE_FRACTIONS]
    for i, s in enumerate(np.linspace(gap, track.length - END_MARGIN, options.count)):
        while any(abs(along(track, car, s)) < 1.0 for car in cars):  # no state's car inside an object
            s += 0.25
        lane = 1 if i % 2 == 0 else -1
        (x, y), yaw = lane_pose(track, s, lane_offset(track, s, lane))
        objects.append(ObjectState(float(x), float(y), yaw, BOT_SPEED if bots else 0.0, bots))
    return objects


def synthetic_params(track, fraction: float, lateral: float, progress: float, steps: int,
                     speed: float = 1.0, steering: float = 0.0, spec: CarSpec = CarSpec(), objects=()) -> dict:
    """Params of a car whose reference point sits `lateral` metres left of the centre line at `fraction` of the lap,
    among `objects` (ObjectStates; those up to CAMERA_RANGE_M ahead count as in the camera)."""
    s = (fraction % 1.0) * track.length
    yaw = float(track.heading_at(s))
    ref = track.point_at(s) + lateral * np.array([-math.sin(yaw), math.cos(yaw)])
    centre = ref - spec.reference_ahead * np.array([math.cos(yaw), math.sin(yaw)])
    s_proj, offset = track.project(ref, near_s=s)
    lap = SimpleNamespace(s=s_proj, offset=offset, progress=progress)
    obj_s = track.project(np.array([(o.x, o.y) for o in objects]))[0] if objects else []
    seen = [0.0 < along(track, s_proj, float(o)) < CAMERA_RANGE_M for o in obj_s]
    state = StepState(reference_xy=ref, yaw=yaw, wheels_xy=wheel_layout(*centre, yaw, spec), steering_deg=steering,
                      speed=speed, steps=steps, sim_time=steps / 15.0, crashed=False, camera_objects=seen,
                      objects=list(objects))
    waypoints = [tuple(map(float, w)) for w in track.waypoints]
    return reward_params(track, lap, state, track.reversed, waypoints)


def validation_states(track, race_type: str = "time-trial") -> dict[str, dict]:
    """DeepRacer's validator states (start, valid, off-track, progress, finish), in the order of one episode,
    with the objects of `race_type` (synthetic_objects).

    Steps and progress only grow, the start (steps == 1) first: reward functions that keep state and
    set it up at the first step (the episode's first waypoint, say) see it set before it is used.
    The off-track state comes back on the track afterwards, as a car reset after an off-track does.
    """
    off = float(track.width_at(0.3 * track.length)) / 2 + 0.5
    objects = synthetic_objects(track, race_type)
    return {
        "start": synthetic_params(track, 0.0, 0.0, 0.0, 1, speed=0.5, objects=objects),
        "valid": synthetic_params(track, 0.3, 0.05, 30.0, 90, speed=2.0, steering=5.0, objects=objects),
        "off-track": synthetic_params(track, 0.3, off, 30.0, 95, speed=2.0, steering=30.0, objects=objects),
        "progress": synthetic_params(track, 0.6, -0.1, 60.0, 180, speed=3.0, steering=-10.0, objects=objects),
        "finish": synthetic_params(track, 0.999, 0.0, 100.0, 300, speed=2.5, objects=objects),
    }


@dataclass
class CheckReport:
    states: dict[str, float] = field(default_factory=dict)
    sim_rewards: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # one line each; the check still passes

    def summary(self) -> str:
        values = np.array(list(self.states.values()) + self.sim_rewards)
        return f"min {values.min():.4g}  mean {values.mean():.4g}  max {values.max():.4g}  over {len(values)} calls"


def check_reward(reward: RewardFunction, track_name: str, sim_steps: int = 200,
                 race_type: str = "time-trial") -> CheckReport:
    """Call `reward` on the validation states, then on `sim_steps` expert-driven sim steps of a `race_type`
    env (the expert drives the centre line, so it hits boxes and bots: crashes are scored too); RewardError
    on a fault."""
    from racekit.tracks import load_track

    from racekit.sim.env import TimeTrialEnv
    from racekit.sim.expert import ExpertDriver

    reward.time_limit_s = TIME_LIMIT_S
    report = CheckReport()
    large = []  # (which call, value, params) of each reward beyond LARGE_REWARD
    track = load_track(track_name)
    for name, params in validation_states(track, race_type).items():
        report.states[name] = reward(params)
        if abs(report.states[name]) > LARGE_REWARD:
            large.append((f"the {name} state", report.states[name], params))
    env = TimeTrialEnv(track=track, reward_function=reward, race_type=race_type)
    try:
        driver = ExpertDriver(env)
        env.reset(seed=0)
        while len(report.sim_rewards) < sim_steps:
            _, r, terminated, truncated, info = env.step(driver.act())
            report.sim_rewards.append(r)
            if abs(r) > LARGE_REWARD:
                large.append((f"sim step {len(report.sim_rewards)}", r, info.get("params")))
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    if large:
        report.warnings.append(large_reward_warning(reward, large, len(report.states) + len(report.sim_rewards)))
    return report


def large_reward_warning(reward: RewardFunction, large: list, calls: int) -> str:
    """One line naming the file and line of the first reward beyond LARGE_REWARD, and how many there were."""
    which, value, params = large[0]
    # finding the line calls the function once more: done last, so a stateful function's other calls are as run
    where = reward.where(params) if params is not None else f"{reward.path}: reward_function"
    return (f"{where} returned {value:g} on {which} ({len(large)} of {calls} calls beyond +/-1e5): "
            f"DeepRacer accepts any finite reward, but values this large can drown out the rest in training")
