"""Head-to-bot: drive fast, and overtake the bot cars in the other lane.

Bots drive lane lines at objects_speed. For the next bot ahead in the car's
lane, the time to reach it at the present closing speed is what matters: under
1.5 s the reward falls towards nothing, so the car learns to pull out (or
slow down) in time. A bot in the other lane, or one the car is pulling away
from, costs nothing. A crash earns almost nothing.
"""
import math

WARNING_S = 1.5


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return 1e-3

    # fast and pointed down the road
    waypoints = params["waypoints"]
    prev, nxt = params["closest_waypoints"]
    dx, dy = waypoints[nxt][0] - waypoints[prev][0], waypoints[nxt][1] - waypoints[prev][1]
    error = abs((math.degrees(math.atan2(dy, dx)) - params["heading"] + 180) % 360 - 180)
    reward = params["speed"] / 4.0 * max(0.0, math.cos(math.radians(error)))

    if params["objects_location"]:
        ahead = params["closest_objects"][1]
        if params["objects_left_of_center"][ahead] == params["is_left_of_center"]:
            gap = (params["objects_distance"][ahead] - params["projection_distance"]) % params["track_length"]
            closing = params["speed"] - params["objects_speed"][ahead]  # m/s; <= 0: not catching up
            if closing > 0:
                time_to_reach = gap / closing
                reward *= min(1.0, time_to_reach / WARNING_S)
    return max(1e-3, reward)
