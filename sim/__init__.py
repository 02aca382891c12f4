"""The simulator: PyBullet world, car, camera, the Gymnasium env and DeepRacer reward params.

The env ids (racekit/TimeTrial-v0, ...) are registered by racekit/envs.py, which loads nothing of
the simulator until `gym.make` builds an env; this package's own module holds only constants, so the
command line can read them without the simulator.
"""

# DeepRacer's race types (sim/objects.py places their boxes and bots); the leaderboard adds head-to-head.
RACE_TYPES = ("time-trial", "object-avoidance", "head-to-bot")
MAX_OBJECTS = 10  # boxes or bots on a track at most

# DeepRacer's default discrete action list: 5 steering angles x 2 speeds.
DEEPRACER_ACTIONS = [(steer, speed) for speed in (1.0, 2.0) for steer in (-30.0, -15.0, 0.0, 15.0, 30.0)]
