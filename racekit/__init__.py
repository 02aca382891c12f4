"""racekit: learn autonomous racing on your own machine.

The installed packages are one namespace: racekit.tracks, racekit.sim, racekit.agent and
racekit.hardware (the car runtime, which needs none of the others).

Gymnasium env ids (racekit/TimeTrial-v0, ...) are registered by racekit/envs.py, Gymnasium's
convention: `import racekit.envs`, or `gym.make("racekit.envs:racekit/TimeTrial-v0")` in any
interpreter. `import racekit` registers them too when Gymnasium is already imported, as in

    import gymnasium as gym
    import racekit
    env = gym.make("racekit/TimeTrial-v0")

and otherwise loads nothing more: not Gymnasium, never the simulator.

Why not always import racekit.envs here: measured with `python -X importtime -c "import racekit"`
(median of 15 runs on this repository's shared 2-core machine, Gymnasium 1.4): `import racekit`
takes 1.5 ms (15 ms with the meta-path finder it replaces, min 10); importing racekit.envs from
scratch takes 198 ms (min 100), nearly all of it Gymnasium (180 ms, min 95, numpy included; 51 ms
when numpy is already loaded). That would be paid on every start of the command line (`racekit
--help` takes 0.12-0.18 s in all, without numpy) and of the car runtime on a laptop. With
Gymnasium already imported, registering here costs 0.6 ms. And Gymnasium >= 1.0 reads no
entry points that could register the ids on Gymnasium's own import (the `gymnasium.envs` plugin
group of Gymnasium 0.26-0.29 is gone: 1.4 reads no entry points at all, and its
`gymnasium.register_envs(module)` is a no-op that only keeps linters from calling an import
unused), so with Gymnasium imported after racekit, `import racekit.envs` (or the "racekit.envs:"
prefix) is the way.
"""
import sys

__version__ = "0.1.0"


def register_envs() -> None:
    """Register the racekit/ env ids with Gymnasium (again is harmless); the same as `import racekit.envs`."""
    from racekit.envs import register_envs as register

    register()


# sys.modules, not an import attempt: without Gymnasium (the car's install) nothing is tried at all.
if sys.modules.get("gymnasium") is not None:
    register_envs()
