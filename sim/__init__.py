"""The simulator: PyBullet world, car, camera, the Gymnasium env and DeepRacer reward params.

The env ids (racekit/TimeTrial-v0, ...) are registered by `import racekit`, which loads
nothing of the simulator until `gym.make` builds an env.
"""

# DeepRacer's default discrete action list: 5 steering angles x 2 speeds.
DEEPRACER_ACTIONS = [(steer, speed) for speed in (1.0, 2.0) for steer in (-30.0, -15.0, 0.0, 15.0, 30.0)]
