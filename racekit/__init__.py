"""racekit: learn autonomous racing on your own machine.

The installed packages are one namespace: racekit.tracks, racekit.sim, racekit.agent and
racekit.hardware (the car runtime, which needs none of the others). `import racekit` is enough for
`gym.make("racekit/TimeTrial-v0")`: the env ids are registered with Gymnasium as soon as Gymnasium
is imported, and nothing of the simulator (nor Gymnasium itself) is loaded by `import racekit`, so
the command line and the car runtime start fast.
"""
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"


def register_envs() -> None:
    """Register the racekit/ env ids with Gymnasium (again is harmless)."""
    from gymnasium.envs.registration import register, registry

    from racekit.sim import DEEPRACER_ACTIONS

    entry = "racekit.sim.env:TimeTrialEnv"
    envs = {
        "racekit/TimeTrial-v0": {},
        "racekit/TimeTrialDiscrete-v0": {"actions": DEEPRACER_ACTIONS},
        # DeepRacer's own camera: 160x120 RGB.
        "racekit/TimeTrialDeepRacerCamera-v0": {"camera_width": 160, "camera_height": 120, "grayscale": False},
        # DeepRacer's other race types: boxes to avoid, and scripted bot cars to overtake.
        "racekit/ObjectAvoidance-v0": {"race_type": "object-avoidance"},
        "racekit/HeadToBot-v0": {"race_type": "head-to-bot"},
    }
    for env_id, kwargs in envs.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry, kwargs=kwargs)


class _RegisterAfterGymnasium(importlib.abc.MetaPathFinder):
    """Finds `gymnasium` as usual, then registers the env ids once its module has run."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # once only; also keeps the look-up below from finding us again
        spec = importlib.util.find_spec("gymnasium")
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def run_then_register(module):
            run_module(module)
            register_envs()

        spec.loader.exec_module = run_then_register
        return spec


if "gymnasium" in sys.modules:
    register_envs()
else:
    sys.meta_path.insert(0, _RegisterAfterGymnasium())
