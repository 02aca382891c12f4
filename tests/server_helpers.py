"""Shared pieces of the car service tests: a real service on 127.0.0.1 in a thread, with a
software motor controller on a pseudo-terminal behind it and a video file as its camera."""
from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from racekit.hardware.server.client import CarClient
from racekit.hardware.server.serve import BackgroundServer, Car, ServiceConfig, prepare_token
from racekit.hardware.virtual import VirtualController, open_virtual_controller
from hardware_helpers import half_bright, make_model, write_video
from hardware_helpers import wait_until as poll_until

NEUTRAL = (1450.0, 1446.0)  # DeepRacer's defaults: what stop must leave at the controller
WAIT = 20.0  # bounds a hang only; each wait ends as soon as its condition holds
IO_TIMEOUT = 10.0


@dataclass
class Service:
    url: str
    token: str
    client: CarClient
    car: Car
    virtual: VirtualController
    data: Path

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port

    def active_bytes(self) -> bytes | None:
        active = self.car.store.active()
        return None if active is None else Path(active["path"]).read_bytes()

    def snapshot(self) -> tuple:
        """Everything a refused request must leave as it was: state, files, upload area."""
        files = sorted((p.name, p.stat().st_size) for p in (self.data / "models").iterdir())
        return (self.car.store.state(), self.active_bytes(), files, sorted(os.listdir(self.data / "uploads")),
                self.car.runner.running, self.car.runner.estopped)


def wait_until(predicate, timeout: float = WAIT) -> bool:
    """Poll `predicate` (every 20 ms: each poll is an HTTP request) until it holds or `timeout` passes."""
    return poll_until(predicate, timeout, interval=0.02)


def neutral_arrives(virtual: VirtualController, pulses: tuple[float, float] = NEUTRAL) -> float | None:
    """Wait until the last command the controller received (not its own failsafe) is `pulses`;
    the controller's clock time of its arrival, or None if it never came."""
    def arrived(history):
        commands = [r for r in history if r.source == "command"]
        return bool(commands) and (commands[-1].steering_us, commands[-1].throttle_us) == pulses

    return virtual.history("command")[-1].t if virtual.wait_for(arrived, WAIT) else None


def lap_video(directory: Path) -> Path:
    """Half a second bright on the left, half a second on the right: the test model steers both ways."""
    frames = [half_bright(120, 160, "left")] * 8 + [half_bright(120, 160, "right")] * 8
    return write_video(directory / "lap.avi", frames, fps=15)


@contextlib.contextmanager
def car_service(tmp_path: Path, controller: str = "mm1", **config):
    """A running service (with a fresh token) and its software controller; all stopped on exit. `config`:
    more ServiceConfig fields (its camera: the lap video unless given)."""
    data = tmp_path / "car-data"
    with open_virtual_controller(controller) as virtual:
        config.setdefault("camera", str(lap_video(tmp_path)))
        cfg = ServiceConfig(data=str(data), serial=virtual.port, controller=controller, host="127.0.0.1", **config)
        printed = io.StringIO()
        token_hash = prepare_token(cfg.data, out=printed)
        token = printed.getvalue().splitlines()[1].strip()
        car = Car(cfg, token_hash)
        with BackgroundServer(car) as server:
            try:
                yield Service(server.url, token, CarClient(server.url, token), car, virtual, data)
            finally:
                car.runner.stop("test over")


def models(tmp_path: Path, count: int = 2) -> list[Path]:
    """Valid, different models (different speeds, so different bytes and sha256)."""
    return [make_model(tmp_path / f"model{i}.onnx", speed=1.0 + i) for i in range(count)]


def raw_request(service: Service, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                token: str | None = "use-service") -> tuple[int, dict]:
    """One request with http.client (nothing in between rewrites the path): (status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=IO_TIMEOUT)
    try:
        headers = dict(headers or {})
        token = service.token if token == "use-service" else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw or b"{}")
    except ValueError:
        return response.status, {"raw": raw}


def open_socket(service: Service) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=IO_TIMEOUT)
    sock.settimeout(IO_TIMEOUT)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """Whatever the server sends until it closes the connection or goes quiet (b"" if nothing)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    except (ConnectionResetError, TimeoutError):
        pass  # the server dropped a connection it had no answer for
    return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False
