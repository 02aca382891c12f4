"""The simulator: PyBullet world, car, camera, the Gymnasium env and DeepRacer reward params."""
from gymnasium.envs.registration import register

# DeepRacer's default discrete action list: 5 steering angles x 2 speeds.
DEEPRACER_ACTIONS = [(steer, speed) for speed in (1.0, 2.0) for steer in (-30.0, -15.0, 0.0, 15.0, 30.0)]

register(id="racekit/TimeTrial-v0", entry_point="sim.env:TimeTrialEnv")
register(id="racekit/TimeTrialDiscrete-v0", entry_point="sim.env:TimeTrialEnv", kwargs={"actions": DEEPRACER_ACTIONS})
# DeepRacer's own camera: 160x120 RGB.
register(id="racekit/TimeTrialDeepRacerCamera-v0", entry_point="sim.env:TimeTrialEnv",
         kwargs={"camera_width": 160, "camera_height": 120, "grayscale": False})
