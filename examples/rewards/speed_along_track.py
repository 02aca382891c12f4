"""Speed along the track: fast, pointed down the road, and not too close to the edges.

The commanded speed counts only in so far as the car points along the centre
line (the cosine of the heading error), and a little less near the borders.
Dense and simple: it trains clean laps quickly, and fast ones with time
(bench/time_to_lap.py).
"""
import math


def reward_function(params):
    if params["is_offtrack"]:
        return 1e-3
    waypoints = params["waypoints"]
    prev, nxt = params["closest_waypoints"]
    dx, dy = waypoints[nxt][0] - waypoints[prev][0], waypoints[nxt][1] - waypoints[prev][1]
    error = abs((math.degrees(math.atan2(dy, dx)) - params["heading"] + 180) % 360 - 180)
    along = max(0.0, math.cos(math.radians(error)))
    centred = 1.0 - min(1.0, params["distance_from_center"] / (0.5 * params["track_width"])) ** 2
    return max(1e-3, params["speed"] / 4.0 * along * (0.5 + 0.5 * centred))
