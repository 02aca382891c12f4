"""`racekit car calibrate`, driven through its standard input against a software controller on a pty."""
import subprocess
import sys
from pathlib import Path

from racekit.hardware.calibration import load_calibration
from racekit.hardware.virtual import open_virtual_controller

ROOT = Path(__file__).resolve().parent.parent

KEYS = [
    "+", "+", "ok",  # steering centre 1450 -> 1470
    "++", "ok",  # steering left 1700 -> 1750
    "x", "-", "ok",  # steering right 1200 -> 1190 (x: unknown key, shows help)
    "1450", "ok",  # throttle neutral typed in
    "r",  # neutral + 50 us drives backwards: forward is the shorter pulse (polarity -1)
    "-", "1500", "ok", "1305", "ok",  # max forward 1315 -> 1305 (1500 is refused: reverse side)
    "--", "ok",  # max reverse 1607.5 -> 1557.5
]


def distinct(records):
    out = []
    for r in records:
        if not out or out[-1] != (r.steering_us, r.throttle_us):
            out.append((r.steering_us, r.throttle_us))
    return out


def run_calibrate(port, out_path, keys, controller="racekit"):
    cmd = [sys.executable, "-m", "racekit", "car", "calibrate", "--serial", port, "--controller", controller,
           "--out", str(out_path)]
    return subprocess.run(cmd, input="\n".join(keys) + "\n", capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def test_calibrate_through_stdin_saves_the_file_and_moves_the_controller(tmp_path):
    out_path = tmp_path / "car.toml"
    with open_virtual_controller("racekit") as virtual:
        result = run_calibrate(virtual.port, out_path, KEYS)
        assert result.returncode == 0, result.stdout + result.stderr
        assert virtual.wait_for(lambda h: h and (h[-1].steering_us, h[-1].throttle_us) == (1470, 1450), 10)
        received = distinct(virtual.history("command"))
    cal = load_calibration(out_path)
    assert (cal.steering_center_us, cal.steering_left_us, cal.steering_right_us) == (1470, 1750, 1190)
    assert (cal.throttle_neutral_us, cal.throttle_forward_us, cal.throttle_reverse_us) == (1450, 1305, 1557.5)
    assert cal.throttle_polarity == -1 and cal.steering_polarity == 1
    assert "polarity = -1" in out_path.read_text()
    assert "not accepted: forward must be on the forward side" in result.stdout
    assert "keys: + or -" in result.stdout
    assert received == [
        (1450, 1446), (1460, 1446), (1470, 1446),  # centre
        (1700, 1446), (1750, 1446),  # left
        (1200, 1446), (1190, 1446),  # right
        (1470, 1446), (1470, 1450),  # back to centre; neutral
        (1470, 1500), (1470, 1450),  # the direction probe, then neutral again
        (1470, 1315), (1470, 1305), (1470, 1500), (1470, 1305),  # forward (1500 shown, refused)
        (1470, 1450), (1470, 1607.5), (1470, 1557.5),  # reverse
        (1470, 1450),  # the end: centred and neutral
    ]


def test_quitting_saves_nothing_and_leaves_the_car_neutral(tmp_path):
    out_path = tmp_path / "car.toml"
    with open_virtual_controller("mm1") as virtual:
        result = run_calibrate(virtual.port, out_path, ["++", "++", "q"], controller="mm1")
        assert result.returncode == 1 and "nothing saved" in result.stdout
        assert virtual.wait_for(lambda h: h and (h[-1].steering_us, h[-1].throttle_us) == (1450, 1446), 10)
        assert (1550, 1446) in distinct(virtual.history("command"))
    assert not out_path.exists()

