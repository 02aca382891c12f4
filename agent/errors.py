"""The trainers' shared error, in a module of its own that imports nothing.

train.py (the PPO loop), workers.py (local rollout processes) and distributed.py (Ray rollout
actors) all raise RunError; train.py imports the other two, so RunError lives here rather than in
train.py, where the rollout modules would have to import train back. `from racekit.agent.train
import RunError` keeps working: train.py re-exports it.
"""


class RunError(Exception):
    """A run directory or option that cannot be used; str() is one line."""


__all__ = ["RunError"]
