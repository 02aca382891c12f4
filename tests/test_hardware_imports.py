"""The car runtime imports only the standard library, numpy, cv2, onnxruntime and pyserial."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: a meta-path finder refuses the laptop-only packages
# and the project's other areas, then every module under hardware/ is imported.
BLOCKED_IMPORT_CHECK = r'''
import importlib, pkgutil, sys

BLOCKED = {"torch", "pybullet", "gymnasium", "sim", "agent", "racekit", "onnx", "tracks"}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"hardware must not import {name}")
        return None

sys.meta_path.insert(0, Blocker())
import hardware
names = ["hardware"] + [m.name for m in pkgutil.walk_packages(hardware.__path__, "hardware.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
print(len(names), " ".join(names))
'''


def test_every_hardware_module_imports_without_the_laptop_packages():
    result = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT_CHECK], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    count, names = result.stdout.split(maxsplit=1)
    expected = {"hardware." + p.stem for p in (ROOT / "hardware").glob("*.py") if p.stem != "__init__"}
    expected |= {"hardware.protocols." + p.stem for p in (ROOT / "hardware" / "protocols").glob("*.py")
                 if p.stem != "__init__"}
    assert expected <= set(names.split())  # nothing skipped: every file was really imported
    assert int(count) == len(names.split())


def test_the_blocker_itself_works():
    code = BLOCKED_IMPORT_CHECK.replace("import hardware\n", "import torch\n", 1)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "hardware must not import torch" in result.stderr
