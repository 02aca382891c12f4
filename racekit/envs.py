"""The racekit/ env ids, registered with Gymnasium by plain `register()` calls (Gymnasium's convention).

    import racekit.envs                        # registers
    env = gym.make("racekit/TimeTrial-v0")
    env = gym.make("racekit.envs:racekit/TimeTrial-v0")   # in any interpreter: Gymnasium imports this module

`import racekit` imports this module when Gymnasium is already imported (the README's order); why
not always, with the -X importtime figures, is in racekit/__init__.py. Registering loads Gymnasium
(and the few constants of racekit.sim), never the simulator: racekit.sim.env (PyBullet) is
imported by the entry point when `gym.make` builds an env.
"""
from __future__ import annotations

from gymnasium.envs.registration import register, registry

from racekit.sim import DEEPRACER_ACTIONS

ENTRY_POINT = "racekit.sim.env:TimeTrialEnv"

# id -> the TimeTrialEnv keyword arguments it stands for.
ENVS: dict[str, dict] = {
    "racekit/TimeTrial-v0": {},
    "racekit/TimeTrialDiscrete-v0": {"actions": DEEPRACER_ACTIONS},
    # DeepRacer's own camera: 160x120 RGB.
    "racekit/TimeTrialDeepRacerCamera-v0": {"camera_width": 160, "camera_height": 120, "grayscale": False},
    # DeepRacer's other race types: boxes to avoid, and scripted bot cars to overtake.
    "racekit/ObjectAvoidance-v0": {"race_type": "object-avoidance"},
    "racekit/HeadToBot-v0": {"race_type": "head-to-bot"},
}


def register_envs() -> None:
    """Register the ids that are not registered yet (again is harmless: no "Overriding" warning)."""
    for env_id, kwargs in ENVS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs)


register_envs()

__all__ = ["ENVS", "ENTRY_POINT", "register_envs"]
