"""`racekit car drive` end to end, as a real process: video file camera, tiny ONNX model, software
controller on a pseudo-terminal; and the mistakes it refuses before any motor command."""
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from racekit.hardware.controllers import CONTROLLERS
from racekit.hardware.virtual import open_virtual_controller
from hardware_helpers import half_bright, make_model, metadata, write_video

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0  # bounds a hang only; the drive reaches both turns in about a second


def racekit_car(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "racekit", "car", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def lap_video(tmp_path):
    # Half a second bright on the left, half a second bright on the right, looping.
    frames = [half_bright(120, 160, "left")] * 8 + [half_bright(120, 160, "right")] * 8
    return write_video(tmp_path / "lap.avi", frames, fps=15)


# Each protocol's driving throttle as the controller receives it (mm1 sends whole microseconds),
# and how many records one command makes (a Maestro gets one Set Target per channel).
PROTOCOLS = {"racekit": (1446 - 0.25 * 135, 1), "maestro": (1446 - 0.25 * 135, 2), "mm1": (1412, 1)}


@pytest.mark.parametrize("controller", sorted(PROTOCOLS))
def test_drive_end_to_end_follows_the_picture_and_stops_neutral_on_sigterm(tmp_path, lap_video, controller):
    throttle, records_per_command = PROTOCOLS[controller]
    model = make_model(tmp_path / "model.onnx", width=32, height=24, channels=1, frame_stack=2, speed=2.0)
    log = tmp_path / "drive.csv"
    with open_virtual_controller(controller) as virtual:
        proc = racekit_car("drive", "--model", str(model), "--serial", virtual.port, "--controller", controller,
                           "--camera", str(lap_video), "--max-speed", "0.5", "--log", str(log))
        try:
            def turned_both_ways(history):
                steering = [r.steering_us for r in history if r.source == "command"]
                return any(s > 1650 for s in steering) and any(s < 1250 for s in steering)

            assert virtual.wait_for(turned_both_ways, WAIT), "the car did not follow the picture"
            proc.send_signal(signal.SIGTERM)
            sent_at = time.monotonic()
            out, err = proc.communicate(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        rows = list(csv.DictReader(log.open()))
        # Every command sent is in the log: wait until as many as it counts have arrived.
        sent = sum(int(r["sent"]) for r in rows) * records_per_command
        assert virtual.wait_for(lambda h: sum(r.source == "command" for r in h) == sent, WAIT)
        commands = virtual.history("command")
    # The last command that reached the controller came from the runtime (not the
    # controller's own failsafe), and it is centred steering and neutral throttle.
    assert (commands[-1].steering_us, commands[-1].throttle_us) == (1450, 1446)
    assert commands[-1].t - sent_at < 1.0  # about a millisecond in practice; the bound allows a loaded machine
    # Driving throttle: 2 m/s of 4 m/s, at a speed cap of 0.5, towards DeepRacer's forward (shorter) pulse.
    driving = [c for c in commands if c.throttle_us != 1446]
    assert driving and all(c.throttle_us == throttle for c in driving)
    assert rows[0].keys() >= {"time_unix", "t_s", "steering_deg", "speed_mps", "steering_us", "throttle_us"}
    assert any(float(r["steering_deg"] or 0) > 25 for r in rows) and any(float(r["steering_deg"] or 0) < -25
                                                                           for r in rows)
    assert rows[-1]["reason"] == "stop: SIGTERM" and rows[-1]["throttle_us"] == "1446"
    times = [float(r["t_s"]) for r in rows]
    assert times == sorted(times)
    # The timing profile is printed on exit.
    assert "timing profile" in out and "missed deadlines" in out and "p99 ms" in out
    for part in ("camera", "model", "safety", "serial", "log"):
        assert f"\n  {part} " in out


def test_a_model_breaking_the_contract_is_refused_before_any_motor_command(tmp_path, lap_video):
    model = make_model(tmp_path / "wrong.onnx", meta=json.dumps(metadata(width=64, height=48)))  # input is 32x24
    with open_virtual_controller("mm1") as virtual:
        proc = racekit_car("drive", "--model", str(model), "--serial", virtual.port, "--controller", "mm1",
                           "--camera", str(lap_video), "--log", str(tmp_path / "drive.csv"))
        out, err = proc.communicate(timeout=WAIT)
        time.sleep(0.3)  # anything sent would have arrived by now (a test of absence)
        assert virtual.history() == []
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].startswith(f"racekit: error: {model}: input 'frames' has shape")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "drive.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["--max-speed", "1.5"], "--max-speed: speed cap must be a number in [0, 1]"),
    (["--calibration", "missing.toml"], "missing.toml: calibration file not found"),
    (["--camera", "rtsp://nowhere"], "unknown scheme 'rtsp'"),
    (["--serial", "/nonexistent/ttyACM0"], "/nonexistent/ttyACM0: cannot open serial port"),
])
def test_user_mistakes_are_one_line_errors(tmp_path, lap_video, args, message):
    model = make_model(tmp_path / "model.onnx")
    base = {"--model": str(model), "--serial": "loop://", "--controller": "mm1", "--camera": str(lap_video),
            "--log": str(tmp_path / "drive.csv")}
    base.update(dict(zip(args[::2], args[1::2])))
    proc = racekit_car("drive", *[x for kv in base.items() for x in kv])
    _, err = proc.communicate(timeout=WAIT)
    lines = err.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("racekit: error: ")
    assert message in lines[0]


def test_an_existing_estop_file_keeps_the_car_from_starting(tmp_path, lap_video):
    estop = tmp_path / "estop"
    estop.touch()
    with open_virtual_controller("mm1") as virtual:
        proc = racekit_car("drive", "--model", str(make_model(tmp_path / "m.onnx")), "--serial", virtual.port,
                           "--controller", "mm1", "--camera", str(lap_video), "--estop-file", str(estop),
                           "--log", str(tmp_path / "drive.csv"))
        _, err = proc.communicate(timeout=WAIT)
        assert virtual.history() == []
    assert proc.returncode == 2 and f"e-stop file {estop} exists: remove it to drive" in err


def test_cli_controller_names_match_the_drivers_and_help_loads_nothing_heavy():
    from racekit.cli import car as cmd_car

    assert set(cmd_car.CONTROLLER_NAMES) == set(CONTROLLERS)
    code = ("import sys, racekit.cli as cli\n"
            "try:\n    cli.main(['car', 'drive', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('racekit.hardware.service', 'onnxruntime', 'cv2', 'serial', 'torch') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--max-speed" in result.stdout and "HEAVY []" in result.stdout, result.stdout + result.stderr
