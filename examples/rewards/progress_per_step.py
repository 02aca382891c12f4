"""Progress per step: reward laps that take few steps, the popular racing recipe.

Progress divided by steps is the average distance per step so far: high when
fast. A bonus at the lap's end pays for finishing quickly.
"""

TARGET_STEPS = 150  # a good lap of the default track at 15 Hz


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return 1e-3
    steps = params["steps"]
    progress = params["progress"]
    reward = progress / steps  # percent per step
    if progress >= 100.0:
        reward += 100.0 * max(0.0, TARGET_STEPS / steps)
    return float(max(reward, 1e-3))
