"""`racekit car serve` as a real process: the token is printed once and kept only as a hash,
SIGUSR1 is the e-stop, and SIGTERM (systemd's stop) leaves the motors at neutral."""
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from racekit.hardware.server.auth import token_hash
from racekit.hardware.server.client import CarClient, CarError
from racekit.hardware.virtual import open_virtual_controller
from server_helpers import WAIT, lap_video, models, neutral_arrives, wait_until

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serve:
    """`racekit car serve` in a subprocess; `lines` collects its stdout."""

    def __init__(self, data, port, serial, camera, *extra):
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "racekit", "car", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--data", str(data), "--serial", serial, "--controller", "mm1", "--camera", str(camera), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, start: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.output.append(line)
            if line.startswith(start):
                return line
        raise AssertionError(f"no line starting {start!r}; output: {''.join(self.output)}")

    def ready(self) -> None:
        self.wait_for_line("racekit car service on")
        assert wait_until(lambda: _healthy(self.url)), "".join(self.output)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def _healthy(url: str) -> bool:
    try:
        return CarClient(url, "none", timeout_s=1).health()["ok"]
    except CarError:
        return False


@pytest.fixture
def setup(tmp_path):
    with open_virtual_controller("mm1") as virtual:
        yield tmp_path / "data", virtual, lap_video(tmp_path), tmp_path


def test_serve_token_estop_signal_and_sigterm_leave_neutral(setup):
    data, virtual, video, tmp_path = setup
    port = free_port()
    serve = Serve(data, port, virtual.port, video)
    try:
        serve.wait_for_line("A new access token")
        token = serve.wait_for_line("    ").strip()
        assert serve.wait_for_line("Console").strip().endswith(f"/#token={token}")
        serve.ready()
        # Only the hash is kept, in an owner-only file; the token itself is in no file.
        token_file = data / "token.sha256"
        assert token_file.read_text().strip() == token_hash(token)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert not any(token.encode() in p.read_bytes() for p in data.rglob("*") if p.is_file())

        client = CarClient(serve.url, token)
        client.upload(str(models(tmp_path, 1)[0]), activate=True)
        client.start(0.5)
        assert virtual.wait_for(lambda h: any(r.throttle_us != 1446 for r in h), WAIT)
        serve.proc.send_signal(signal.SIGUSR1)  # the e-stop from another process
        assert neutral_arrives(virtual) is not None
        assert wait_until(lambda: client.status()["state"] == "e-stop")
        client.clear_estop()
        client.start(0.5)
        assert virtual.wait_for(lambda h: h[-1].throttle_us != 1446, WAIT)
        asked = time.monotonic()
        code = serve.stop()
        arrived = neutral_arrives(virtual)
        assert arrived is not None and arrived - asked < 1.0
        assert code in (0, -signal.SIGTERM), "".join(serve.output)
    finally:
        serve.stop()

    # A second start keeps the token and does not print it; --new-token replaces it.
    again = Serve(data, port, virtual.port, video)
    try:
        assert "access token: set" in again.wait_for_line("access token")
        again.ready()
        assert token not in "".join(again.output)
        assert CarClient(again.url, token).status()["active"]["name"] == "model0.onnx"
    finally:
        again.stop()
    renewed = Serve(data, port, virtual.port, video, "--new-token")
    try:
        renewed.wait_for_line("A new access token")
        new = renewed.wait_for_line("    ").strip()
        renewed.ready()
        assert new != token and CarClient(renewed.url, new).status()
        with pytest.raises(CarError) as refused:
            CarClient(renewed.url, token).status()
        assert refused.value.status == 401
    finally:
        renewed.stop()
    assert os.listdir(data / "uploads") == []


def test_the_systemd_unit_runs_the_serve_command_with_the_example_options(tmp_path):
    import shlex

    from racekit.cli import build_parser

    unit = (ROOT / "hardware" / "systemd" / "racekit-car.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    env = (ROOT / "hardware" / "systemd" / "racekit-car.env").read_text()
    # systemd drops the quotes of the EnvironmentFile value and splits $RACEKIT_CAR_ARGS at whitespace.
    value = shlex.split(next(line for line in env.splitlines() if line.startswith("RACEKIT_CAR_ARGS=")))[0]
    args = value.split("=", 1)[1].split()
    words = shlex.split(exec_start.split("=", 1)[1])
    assert words[0] == "/opt/racekit/venv/bin/racekit" and words[-1] == "$RACEKIT_CAR_ARGS"
    parsed = build_parser().parse_args(words[1:-1] + args)
    assert (parsed.car_command, parsed.data, parsed.controller, parsed.port) == (
        "serve", "/var/lib/racekit-car", "maestro", 8080)
    assert "EnvironmentFile=/etc/default/racekit-car" in unit and "StateDirectory=racekit-car" in unit
    analyze = shutil.which("systemd-analyze")
    if analyze:  # the unit file's syntax, where systemd's own checker is installed
        copy = tmp_path / "racekit-car.service"
        copy.write_text(unit)
        result = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True,
                                timeout=60)
        problems = [line for line in (result.stdout + result.stderr).splitlines()
                    if line.strip() and "/opt/racekit/venv/bin/racekit" not in line]  # not installed here
        assert problems == []
