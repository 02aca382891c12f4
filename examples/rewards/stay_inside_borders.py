"""Borders: any line is fine as long as all four wheels stay well inside the track.

DeepRacer's second console example: lets the car cut corners instead of
tracking the centre line.
"""


def reward_function(params):
    if not params["all_wheels_on_track"]:
        return 1e-3
    margin = 0.5 * params["track_width"] - params["distance_from_center"]
    if margin >= 0.05:
        return 1.0
    return 0.2
