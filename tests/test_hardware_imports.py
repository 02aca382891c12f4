"""The car runtime imports only the standard library, numpy, cv2, onnxruntime and pyserial."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: a meta-path finder refuses the laptop-only packages
# and the project's other areas, then every module under hardware/ is imported.
BLOCKED_IMPORT_CHECK = r'''
import importlib, pkgutil, sys

# the laptop-only packages, the other areas of racekit, and any top-level sim/agent/tracks (the old names)
BLOCKED = ("torch", "pybullet", "gymnasium", "onnx", "racekit.sim", "racekit.agent", "racekit.tracks", "racekit.cli",
           "sim", "agent", "tracks")

def blocked(name):
    return any(name == b or name.startswith(b + ".") for b in BLOCKED)

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if blocked(name):
            raise ImportError(f"hardware must not import {name}")
        return None

sys.meta_path.insert(0, Blocker())
import racekit.hardware
names = ["racekit.hardware"] + [m.name for m in pkgutil.walk_packages(racekit.hardware.__path__, "racekit.hardware.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if blocked(m))
assert not leaked, leaked
print(len(names), " ".join(names))
'''


def test_every_hardware_module_imports_without_the_laptop_packages():
    result = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT_CHECK], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    count, names = result.stdout.split(maxsplit=1)
    expected = {"racekit.hardware." + p.stem for p in (ROOT / "hardware").glob("*.py") if p.stem != "__init__"}
    expected |= {"racekit.hardware.protocols." + p.stem for p in (ROOT / "hardware" / "protocols").glob("*.py")
                 if p.stem != "__init__"}
    assert expected <= set(names.split())  # nothing skipped: every file was really imported
    assert int(count) == len(names.split())


def test_the_blocker_itself_works():
    code = BLOCKED_IMPORT_CHECK.replace("import racekit.hardware\n", "import torch\n", 1)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "hardware must not import torch" in result.stderr
