"""DeepRacer's reward-function `params`, computed from the simulator's state.

Every key of DESIGN.md section 4 is here, with DeepRacer's meaning. The
reference point (x, y) is 0.14 m ahead of the car's centre, as in DeepRacer;
progress, distance_from_center and closest_waypoints use it too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
    camera_objects: list[bool]  # per obstacle: is it in the front camera's view


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
    params.update(object_params(track, s, state))
    return params


def object_params(track, car_s: float, state: StepState) -> dict:
    """The object keys; with no objects on the track, DeepRacer's empty defaults."""
    if not track.obstacles:
        return {"closest_objects": [0, 0], "objects_location": [], "objects_left_of_center": [],
                "object_in_camera": False, "objects_speed": [], "objects_heading": [], "objects_distance": [],
                "objects_distance_from_center": []}
    xy = np.array([(x, y) for x, y, _ in track.obstacles])
    obj_s, obj_offset = track.project(xy)
    # DeepRacer: [index of the closest object behind the car, index of the closest object ahead]
    if track.closed:
        ahead = (obj_s - car_s) % track.length
        next_idx, behind_idx = int(np.argmin(ahead)), int(np.argmax(ahead))
    else:
        ahead = obj_s - car_s
        next_idx = int(np.argmin(np.where(ahead >= 0, ahead, np.inf))) if np.any(ahead >= 0) else int(np.argmax(ahead))
        behind_idx = int(np.argmax(np.where(ahead < 0, ahead, -np.inf))) if np.any(ahead < 0) else int(np.argmin(ahead))
    return {
        "closest_objects": [behind_idx, next_idx],
        "objects_location": [tuple(map(float, p)) for p in xy],
        "objects_left_of_center": [bool(o > 0) for o in obj_offset],
        "object_in_camera": bool(any(state.camera_objects)),
        "objects_speed": [0.0] * len(xy),  # static obstacles
        "objects_heading": [0.0] * len(xy),
        "objects_distance": [float(v) for v in obj_s],
        "objects_distance_from_center": [float(abs(o)) for o in obj_offset],
    }
