"""Object avoidance: stay inside the borders, keep your distance from every box.

Clearance is the straight-line distance from the car to the nearer of the two
closest boxes (the one behind and the one ahead), so the car is not rewarded
for cutting back in right after a box. Under 0.6 m the reward drops smoothly;
more than that does not pay extra, so the car keeps to the racing line
otherwise. Speed adds a bonus on top.
"""
import math

SAFE_M = 0.6


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return 1e-3

    # inside the borders, with a margin for the wheels
    margin = 0.5 * params["track_width"] - params["distance_from_center"]
    on_road = 1.0 if params["all_wheels_on_track"] and margin >= 0.05 else 0.2

    clearance = 1.0
    for index in set(params["closest_objects"]) if params["objects_location"] else ():
        ox, oy = params["objects_location"][index]
        distance = math.hypot(ox - params["x"], oy - params["y"])
        clearance = min(clearance, (min(distance, SAFE_M) / SAFE_M) ** 2)

    speed_bonus = params["speed"] / 4.0
    return max(1e-3, on_road * clearance * (0.5 + 0.5 * speed_bonus))
