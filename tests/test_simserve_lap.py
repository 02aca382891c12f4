"""`racekit car drive` laps the simulator through `racekit sim serve` as fast as `racekit evaluate` says.

The model is the expert cloned on the oval (agent/imitation.py) and exported
the way training exports (agent/export.py). Both commands run as real
subprocesses, talking only through the pseudo-terminal and the camera stream,
in real time: about 20 s in all (10 s of it cloning), so it runs by default.
"""
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from racekit.agent.export import export_onnx
from racekit.agent.imitation import imitate
from racekit.agent.train import RunConfig
from racekit.cli import main
from simtools import Output

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0


def racekit(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "racekit", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=WAIT)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The expert capped at 2 m/s on the oval, cloned from 2500 noisy frames and exported (about 10 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster than two on a busy 2-core machine
    try:
        tmp = tmp_path_factory.mktemp("carlap")
        run = imitate(tmp / "run", RunConfig(track="oval"), max_speed=2.0, samples=2500, epochs=6, seed=0)
        export_onnx(run, tmp / "model.onnx")
    finally:
        torch.set_num_threads(before)
    return tmp / "model.onnx"


@pytest.mark.timeout(600)
def test_car_drive_laps_sim_serve_within_10_percent_of_evaluate(model, tmp_path, capsys):
    result = tmp_path / "evaluate.json"
    assert main(["evaluate", str(model), "--laps", "1", "--json", str(result)]) == 0
    capsys.readouterr()
    evaluated = json.loads(result.read_text())
    assert evaluated["completion"] == 100.0, evaluated
    expected = evaluated["lap_times"][0]

    serve = racekit("sim", "serve", "--track", "oval", "--port", "0", "--controller", "racekit", "--laps", "1",
                    "--duration", "120", "--status-every", "2")
    car = None
    try:
        served = Output(serve.stdout, WAIT)
        pty_line, url_line = served.wait_for("motor controller (racekit) on "), served.wait_for("BGR at sim://")
        assert pty_line and url_line, (served.lines, serve.poll())
        car = racekit("car", "drive", "--model", str(model), "--serial", pty_line.split(" on ")[1],
                      "--controller", "racekit", "--camera", url_line.split(" at ")[1], "--max-speed", "1",
                      "--log", str(tmp_path / "drive.csv"), "--duration", "100")
        driven = Output(car.stdout, WAIT)
        assert serve.wait(timeout=110) == 0, (served.lines, serve.stderr.read())  # it stops after its lap
        car.send_signal(signal.SIGTERM)
        assert car.wait(timeout=WAIT) == 0, car.stderr.read()
    finally:
        for proc in (car, serve):
            if proc is not None:
                stop(proc)
    lap = served.wait_for("] lap 1: ", 0.0)
    assert lap and served.wait_for("the car started", 0.0), served.lines
    seconds = float(re.search(r"lap 1: ([0-9.]+) s", lap).group(1))
    summary = served.wait_for("stopped (1 lap): 1 laps", 0.0)
    assert summary and "off-tracks 0" in summary, served.lines
    print(f"lap through sim serve: {seconds:.2f} s; racekit evaluate: {expected:.2f} s")
    assert abs(seconds - expected) <= 0.10 * expected, (seconds, expected, served.lines)
    # the car side: the model drove (not the failsafe) and stopped through its own neutral
    assert driven.wait_for("stopped (SIGTERM)", 5.0), driven.lines
    rows = (tmp_path / "drive.csv").read_text().splitlines()
    assert sum(",drive" in row for row in rows) > 8 * 15  # at least the lap's 8-odd seconds of model commands
