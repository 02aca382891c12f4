"""DeepRacer's reward-function `params`, computed from the simulator's state.

Every key of DESIGN.md section 4 is here, with DeepRacer's meaning. The
reference point (x, y) is 0.14 m ahead of the car's centre, as in DeepRacer;
progress, distance_from_center and closest_waypoints use it too. The object
keys come from sim/objects.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from racekit.sim.objects import ObjectState, object_params


@dataclass
class StepState:
    """What one control step left behind, in the world frame."""

    reference_xy: np.ndarray  # (2,)
    yaw: float  # radians
    wheels_xy: np.ndarray  # (4, 2)
    steering_deg: float  # commanded
    speed: float  # commanded, m/s
    steps: int  # including this one
    sim_time: float
    crashed: bool
    camera_objects: list[bool]  # per object: is it in the front camera's view
    objects: list[ObjectState] = field(default_factory=list)  # the track's obstacles, boxes, bots (sim/objects.py)


def heading_degrees(yaw: float) -> float:
    """Radians -> degrees in (-180, 180]."""
    deg = math.degrees(math.atan2(math.sin(yaw), math.cos(yaw)))
    return 180.0 if deg <= -180.0 else deg


def reward_params(track, lap, state: StepState, is_reversed: bool, waypoints: list) -> dict:
    """A fresh params dict for one call of the user's reward_function."""
    s, offset = lap.s, float(lap.offset)
    inside = track.is_inside(state.wheels_xy)
    prev_wp, next_wp = track.closest_waypoints(s)
    params = {
        "all_wheels_on_track": bool(np.all(inside)),
        "x": float(state.reference_xy[0]),
        "y": float(state.reference_xy[1]),
        "heading": heading_degrees(state.yaw),
        "distance_from_center": abs(offset),
        "is_left_of_center": offset > 0.0,
        "progress": float(lap.progress),
        "steps": int(state.steps),
        "speed": float(state.speed),
        "steering_angle": float(state.steering_deg),
        "track_width": float(track.width_at(s)),
        "track_length": float(track.length),
        "waypoints": list(waypoints),
        "closest_waypoints": [int(prev_wp), int(next_wp)],
        "is_reversed": bool(is_reversed),
        "is_offtrack": not bool(np.any(inside)),
        "is_crashed": bool(state.crashed),
        "projection_distance": float(s),
        "sim_time": float(state.sim_time),
    }
    params.update(object_params(track, s, state.objects, state.camera_objects))
    return params
