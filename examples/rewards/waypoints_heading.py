"""Waypoints plus heading: point the car along the track a few waypoints ahead.

Looks three waypoints ahead, so the car starts turning before the corner, and
penalises the difference between the car's heading and that direction.
"""
import math

LOOK_AHEAD = 3
DIRECTION_THRESHOLD = 10.0  # degrees


def reward_function(params):
    if params["is_offtrack"]:
        return 1e-3
    waypoints = params["waypoints"]
    _, next_index = params["closest_waypoints"]
    target = waypoints[(next_index + LOOK_AHEAD) % len(waypoints)]
    direction = math.degrees(math.atan2(target[1] - params["y"], target[0] - params["x"]))
    error = abs((direction - params["heading"] + 180.0) % 360.0 - 180.0)
    reward = 1.0 - min(error, 90.0) / 90.0
    if error > DIRECTION_THRESHOLD:
        reward *= 0.5
    on_track = 1.0 if params["all_wheels_on_track"] else 0.5
    return float(max(reward * on_track, 1e-3))
