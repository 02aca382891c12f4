"""Centre line with a zig-zag penalty: hard steering costs reward.

DeepRacer's third console example: stops the car weaving from side to side on
straights.
"""

ABS_STEERING_THRESHOLD = 15.0  # degrees


def reward_function(params):
    track_width = params["track_width"]
    distance = params["distance_from_center"]
    if distance <= 0.1 * track_width:
        reward = 1.0
    elif distance <= 0.25 * track_width:
        reward = 0.5
    elif distance <= 0.5 * track_width:
        reward = 0.1
    else:
        reward = 1e-3
    if abs(params["steering_angle"]) > ABS_STEERING_THRESHOLD:
        reward *= 0.8
    return float(reward)
