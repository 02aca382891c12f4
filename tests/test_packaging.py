"""The built wheel installs one namespace, racekit.*, and works beside a user's own sim.py, agent.py and tracks/."""
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "runs", "build", "tests", "__pycache__", ".pytest_cache"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the source (a stale build/ of the checkout cannot leak into it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(REPO, source, ignore=lambda _, names: [n for n in names if n in SKIP or n.endswith(".egg-info")])
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (built,) = (tmp / "dist").glob("racekit-*.whl")
    return built


def test_the_wheel_holds_only_the_racekit_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"racekit", next(t for t in tops if t.endswith(".dist-info"))}, tops
    for expected in ("racekit/sim/env.py", "racekit/sim/assets/car.urdf", "racekit/tracks/builtin/piccolo.track",
                     "racekit/agent/ppo.py", "racekit/hardware/drive.py", "racekit/hardware/server/static/console.html"):
        assert expected in names
    for folder, installed in (("racekit", "racekit"), ("sim", "racekit/sim"), ("agent", "racekit/agent"),
                              ("tracks", "racekit/tracks"), ("hardware", "racekit/hardware")):
        for init in (REPO / folder).rglob("__init__.py"):  # every package of the source tree is in the wheel
            inside = init.relative_to(REPO / folder).as_posix()
            assert f"{installed}/{inside}" in names, f"{folder}/{inside} is not in the wheel (pyproject's packages)"
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    car = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra == \"car\"" in line]
    assert car and not any(heavy in line for line in car for heavy in ("torch", "pybullet", "gymnasium", "onnx>"))


def test_the_installed_wheel_works_beside_a_users_own_sim_agent_and_tracks(wheel, tmp_path):
    # A fresh venv with the wheel alone; the third-party packages come from this venv's site-packages
    # (as a plain path: its .pth files, and so this checkout's editable install, are not loaded).
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)
    site = next((fresh / "lib").glob("python*/site-packages"))
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "numpy").is_dir())
    (site / "deps.pth").write_text(f"{deps}\n")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                             str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not any((site / name).exists() for name in ("sim", "agent", "tracks", "hardware"))

    user = tmp_path / "user"
    (user / "tracks").mkdir(parents=True)
    (user / "sim.py").write_text("WHO = 'the user'\n")
    (user / "agent.py").write_text("WHO = 'the user'\n")
    (user / "tracks" / "__init__.py").write_text("WHO = 'the user'\n")
    (user / "reward.py").write_text("def reward_function(params):\n    return float(params['speed'])\n")
    script = (
        "import sim, agent, tracks\n"
        "assert sim.WHO == agent.WHO == tracks.WHO == 'the user'\n"
        "import racekit, sys\n"
        "assert 'gymnasium' not in sys.modules and 'pybullet' not in sys.modules\n"
        "import gymnasium as gym\n"  # after racekit: the "racekit.envs:" prefix registers the ids
        "env = gym.make('racekit.envs:racekit/TimeTrial-v0', track='oval', reward_function='reward.py')\n"
        "obs, info = env.reset(seed=0)\n"
        "obs, reward, *_ = env.step(env.action_space.sample())\n"
        "assert obs.shape == (60, 80, 1) and reward > 0, reward\n"
        "import racekit.sim.env\n"
        "assert racekit.sim.env.__file__.startswith(sys.prefix), racekit.sim.env.__file__\n"
        "import racekit.hardware.drive, racekit.hardware.server.app\n"
        "print('OK', racekit.hardware.drive.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    python = fresh / "bin" / "python"
    result = subprocess.run([str(python), "-c", script], cwd=user, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "OK " + str(site) in result.stdout, result.stdout + result.stderr
    check = subprocess.run([str(python), "-m", "racekit", "reward", "check", "reward.py", "--track", "oval",
                            "--steps", "20"], cwd=user, env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
