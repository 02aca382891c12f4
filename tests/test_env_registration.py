"""The racekit/ env ids: registered by racekit/envs.py's plain register() calls, each in a fresh interpreter.

`import racekit` registers them when Gymnasium is already imported (the README's order), loads
nothing heavy either way, and is fine on the car, which has no Gymnasium; `import racekit.envs`
and gym.make("racekit.envs:...") register them in any order. No import hook is involved, so code
that looks Gymnasium up with importlib.util.find_spec first changes nothing.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MAKE_ALL = (
    "from racekit.envs import ENVS\n"
    "ours = sorted(k for k in gym.registry if k.startswith('racekit/'))\n"
    "assert ours == sorted(ENVS), ours\n"
    "for env_id in ENVS:\n"
    "    env = gym.make(env_id)\n"
    "    obs, _ = env.reset(seed=0)\n"
    "    assert env.observation_space.contains(obs), env_id\n"
    "    env.close()\n"
    "print('MADE', len(ENVS))\n"
)


def run(code: str) -> str:
    # -W error: a second registration would warn ("Overriding environment ...") and fail here.
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_import_racekit_after_gymnasium_registers_every_id_and_each_makes_an_env():
    # The README's snippet: gymnasium, then racekit.
    out = run("import gymnasium as gym\nimport racekit\n" + MAKE_ALL)
    assert "MADE 5" in out


@pytest.mark.parametrize("first", ["import racekit\n", "import racekit.hardware\n", ""])
def test_the_module_prefix_registers_in_a_fresh_interpreter(first):
    code = (first + "import gymnasium as gym\n"
            "env = gym.make('racekit.envs:racekit/TimeTrial-v0')\n"
            "obs, _ = env.reset(seed=0)\n"
            "assert obs.shape == (60, 80, 1)\n"
            "env.close()\n"
            # registered once, by that import: the other ids are there too, and again is harmless
            "import racekit, racekit.envs\n"
            "racekit.register_envs(); racekit.envs.register_envs()\n" + MAKE_ALL)
    assert "MADE 5" in run(code)


def test_import_racekit_envs_registers_whatever_was_imported_first():
    out = run("import racekit\nimport gymnasium as gym\nimport racekit.envs\n" + MAKE_ALL)
    assert "MADE 5" in out


@pytest.mark.parametrize("order", ["gymnasium first", "racekit first"])
def test_looking_gymnasium_up_with_find_spec_first_does_not_break_registration(order):
    # The meta-path finder this replaced took itself out on such a look-up, and the ids were never registered.
    look = "import importlib.util\nassert importlib.util.find_spec('gymnasium') is not None\n"
    if order == "gymnasium first":
        code = look + "import gymnasium as gym\nimport racekit\n"
    else:
        code = "import racekit\n" + look + "import gymnasium as gym\nimport racekit.envs\n"
    assert "MADE 5" in run(code + MAKE_ALL)


def test_import_racekit_loads_neither_gymnasium_nor_the_simulator_nor_torch():
    code = ("import sys, racekit\n"
            "heavy = [m for m in ('gymnasium', 'pybullet', 'torch', 'numpy', 'racekit.envs', 'racekit.sim',\n"
            "                     'racekit.sim.env') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    assert "HEAVY []" in run(code)


def test_registering_loads_gymnasium_but_not_the_simulator():
    code = ("import sys, gymnasium, racekit\n"
            "assert 'racekit/TimeTrial-v0' in gymnasium.registry\n"
            "heavy = [m for m in ('pybullet', 'torch', 'racekit.sim.env') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    assert "HEAVY []" in run(code)


def test_without_gymnasium_racekit_and_the_car_runtime_still_import():
    # The car's install has no Gymnasium: sys.modules[name] = None makes any import of it fail.
    code = ("import sys\n"
            "sys.modules['gymnasium'] = None\n"
            "import racekit, racekit.hardware, racekit.hardware.protocols\n"
            "assert 'racekit.envs' not in sys.modules\n"
            "try:\n"
            "    import racekit.envs\n"
            "except ImportError:\n"
            "    print('NO GYMNASIUM')\n")
    assert "NO GYMNASIUM" in run(code)
