"""Object avoidance: speed along the track, and the free lane when a box is coming up.

The next box (closest_objects[1]) is looked at once it is less than 2.5 m ahead
along the track. Being on its other side of the centre line earns the full
reward; in its lane the reward falls the nearer it gets. A crash earns almost
nothing, so the car learns to change lanes early rather than brake.
"""
import math

LOOK_AHEAD_M = 2.5


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return 1e-3

    # fast and pointed down the road (as in speed_along_track.py)
    waypoints = params["waypoints"]
    prev, nxt = params["closest_waypoints"]
    dx, dy = waypoints[nxt][0] - waypoints[prev][0], waypoints[nxt][1] - waypoints[prev][1]
    error = abs((math.degrees(math.atan2(dy, dx)) - params["heading"] + 180) % 360 - 180)
    reward = params["speed"] / 4.0 * max(0.0, math.cos(math.radians(error)))

    if not params["objects_location"]:  # a race without objects
        return max(1e-3, reward)

    # how far ahead, along the track, the next box is (distances count from the start line, so wrap)
    ahead = params["closest_objects"][1]
    gap = (params["objects_distance"][ahead] - params["projection_distance"]) % params["track_length"]
    same_lane = params["objects_left_of_center"][ahead] == params["is_left_of_center"]
    if gap < LOOK_AHEAD_M and same_lane:
        reward *= gap / LOOK_AHEAD_M  # 1 far away, 0 at the box
    return max(1e-3, reward)
