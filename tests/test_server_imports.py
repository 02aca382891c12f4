"""The car service is part of the car runtime: no laptop packages; its client needs only the standard library."""
import subprocess
import sys
from pathlib import Path

from test_hardware_imports import BLOCKED_IMPORT_CHECK

ROOT = Path(__file__).resolve().parent.parent


def test_every_car_service_module_imports_without_the_laptop_packages():
    result = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT_CHECK], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split()[1:])
    expected = {"racekit.hardware.server." + p.stem for p in (ROOT / "hardware" / "server").glob("*.py")
                if p.stem != "__init__"}
    assert len(expected) >= 7 and expected | {"racekit.hardware.server"} <= imported


def test_the_client_and_the_laptop_commands_load_no_server_or_model_packages():
    code = ("import sys\n"
            "import racekit.hardware.server.client\n"
            "import racekit.cli as cli\n"
            "try:\n    cli.main(['flash', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('starlette', 'uvicorn', 'onnxruntime', 'cv2', 'numpy', 'serial', 'torch')\n"
            "         if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--activate" in result.stdout and "HEAVY []" in result.stdout, result.stdout + result.stderr
