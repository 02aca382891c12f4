"""Centre line, smoothly: the closer to the centre the better, and faster is better when centred.

A Gaussian of the distance from the centre instead of DeepRacer's three steps,
times a speed bonus, so small improvements always pay.
"""
import math


def reward_function(params):
    if params["is_offtrack"]:
        return 1e-3
    half_width = 0.5 * params["track_width"]
    centred = math.exp(-((params["distance_from_center"] / (0.4 * half_width)) ** 2))
    speed_bonus = params["speed"] / 4.0
    return float(centred * (0.5 + 0.5 * speed_bonus))
