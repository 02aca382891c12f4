"""`racekit car serve`: the data directory, the token, and uvicorn around the app.

    DATA/token.sha256      the access token's hash (the token itself is printed once)
    DATA/calibration.toml  this car's calibration (written from the console)
    DATA/estop             exists while the e-stop is set (`touch` it over ssh to stop the car)
    DATA/logs/             one CSV of every command per drive
    DATA/models/, DATA/state.json, DATA/uploads/: the model store (store.py)

Stopping the service (SIGTERM from systemd, Ctrl-C) stops the car first,
before open connections are waited for; SIGUSR1 is the e-stop, as for
`racekit car drive`.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

import uvicorn

from racekit.hardware.server import auth
from racekit.hardware.server.app import build_app
from racekit.hardware.server.camera_view import SharedCamera
from racekit.hardware.server.runner import CarRunner
from racekit.hardware.server.sensors import CarSensors
from racekit.hardware.server.store import DEFAULT_KEEP, DEFAULT_MAX_BYTES, ModelStore
from racekit.hardware.server.threaded import ThreadedServer, bind
from racekit.hardware.lidar_observation import EVO_MOUNT_YAW_DEG
from racekit.hardware.service import DriveConfig

GRACEFUL_S = 2.0  # open streams (the camera view) get this long to end when the service stops


@dataclass
class ServiceConfig:
    data: str
    serial: str
    controller: str
    camera: str = "0"  # the camera, the left one of a stereo pair, or a side-by-side stereo device
    right_camera: str | None = None  # the sensors, as for `racekit car drive` (hardware/server/sensors.py)
    side_by_side: bool = False
    lidar: str | None = None
    lidar_mount_yaw_deg: float = EVO_MOUNT_YAW_DEG
    lidar_baudrate: int | None = None
    lidar_motor_pwm: int | None = None
    host: str = "0.0.0.0"
    port: int = 8080
    baudrate: int | None = None
    steering_channel: int = 0
    throttle_channel: int = 1
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    keep_models: int = DEFAULT_KEEP
    default_max_speed: float = 0.5
    view_max_s: float = 600.0  # one camera stream at most this long (the page reconnects)


class Car:
    """What the routes work with: the store, the drive loop, the camera, the car's sensors, the calibration."""

    def __init__(self, config: ServiceConfig, token_hash: str):
        data = os.path.abspath(config.data)
        os.makedirs(data, mode=0o700, exist_ok=True)
        self.config = config
        self.token_hash = token_hash
        self.sensors = CarSensors(config.camera, config.right_camera, config.side_by_side, config.lidar,
                                  config.lidar_mount_yaw_deg, config.lidar_baudrate, config.lidar_motor_pwm)
        self.store = ModelStore(data, config.max_upload_bytes, config.keep_models, check=self.sensors.refusal)
        self.camera = SharedCamera(config.camera)
        self.calibration_path = os.path.join(data, "calibration.toml")
        base = DriveConfig(model="", serial=config.serial, controller=config.controller, camera=config.camera,
                           baudrate=config.baudrate, steering_channel=config.steering_channel,
                           throttle_channel=config.throttle_channel)
        self.runner = CarRunner(self.camera, base, estop_file=os.path.join(data, "estop"),
                                log_dir=os.path.join(data, "logs"), calibration_file=self.calibration_path,
                                sensors=self.sensors)
        self.default_max_speed = config.default_max_speed
        self.view_max_s = config.view_max_s
        self.closing = threading.Event()  # set when the service stops: camera streams end

    def halt(self) -> None:
        """Neutral now, without waiting (safe inside a signal handler)."""
        self.closing.set()
        self.runner.stop("service stopping", wait_s=0)


def prepare_token(data: str, renew: bool = False, out: TextIO = sys.stdout, url: str | None = None) -> str:
    """The stored token hash; on first start (or `renew`) make a token and print it, once."""
    os.makedirs(data, mode=0o700, exist_ok=True)
    stored = None if renew else auth.load_token_hash(data)
    if stored is not None:
        print("access token: set (make a new one with --new-token)", file=out, flush=True)
        return stored
    token = auth.new_token(data)
    print("A new access token for this car. It is shown only now and the car keeps only its hash:\n"
          f"    {token}\n"
          "On the laptop: export RACEKIT_CAR_TOKEN=<token>, or put `token = \"<token>\"` in "
          "~/.config/racekit/car.toml", file=out)
    if url:
        print(f"Console (logs this browser in): {url}#token={token}", file=out)
    out.flush()
    return auth.load_token_hash(data)


class CarServer(uvicorn.Server):
    """uvicorn, with the car stopped first whenever the server stops."""

    def __init__(self, config: uvicorn.Config, car: Car):
        super().__init__(config)
        self.car = car

    def handle_exit(self, sig, frame) -> None:
        self.car.halt()  # at the signal, not after the open connections have been waited for
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets=None) -> None:
        self.car.halt()
        await asyncio.get_running_loop().run_in_executor(None, self.car.runner.stop, "service stopping")
        await super().shutdown(sockets)


def make_server(car: Car, host: str, port: int, quiet: bool = False) -> CarServer:
    config = uvicorn.Config(build_app(car), host=host, port=port, timeout_graceful_shutdown=GRACEFUL_S,
                            lifespan="off", access_log=not quiet, log_level="warning" if quiet else "info",
                            log_config=None if quiet else uvicorn.config.LOGGING_CONFIG)
    return CarServer(config, car)


def serve(config: ServiceConfig, new_token: bool = False, out: TextIO = sys.stdout) -> None:
    """Run the service until SIGTERM or Ctrl-C; OSError if the port cannot be had."""
    sock = bind(config.host, config.port)
    # Listening on every address: a Pi answers to HOSTNAME.local on the LAN (mDNS, on by default).
    shown = f"{socket.gethostname()}.local" if config.host in ("0.0.0.0", "::") else config.host
    token_hash = prepare_token(config.data, new_token, out, url=f"http://{shown}:{config.port}/")
    car = Car(config, token_hash)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, lambda _s, _f: car.runner.estop(wait_s=0))
    print(f"racekit car service on http://{config.host}:{config.port}/ (data {os.path.abspath(config.data)}, "
          f"{config.controller} on {config.serial}, {car.sensors.summary()}); "
          f"e-stop: the console, `kill -USR1 {os.getpid()}` or `touch {os.path.join(config.data, 'estop')}`",
          file=out, flush=True)
    make_server(car, config.host, config.port).run(sockets=[sock])


class BackgroundServer(ThreadedServer):
    """The service in a thread on an ephemeral port of `host` (tests, tools); a context manager.

    The socket is bound before the thread starts, so `url` is known and no
    other process can take the port in between.
    """

    def __init__(self, car: Car, host: str = "127.0.0.1", start_timeout_s: float = 10.0):
        self.car = car
        super().__init__(make_server(car, host, 0, quiet=True), host, "car service", start_timeout_s)
