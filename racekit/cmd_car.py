"""`racekit car ...`: drive the real car with a model, and calibrate it.

Only argparse is imported here; the car runtime (hardware/, with numpy, cv2,
onnxruntime, pyserial) is imported when a command runs, so `racekit --help`
stays fast and the other commands never load it.
"""
from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys

CONTROLLER_NAMES = ("maestro", "mm1", "racekit")  # hardware.controllers.CONTROLLERS; a test keeps them equal


def register(subparsers) -> None:
    car = subparsers.add_parser("car", help="drive the real car with a model; calibrate its servo and ESC")
    sub = car.add_subparsers(dest="car_command", required=True)

    d = sub.add_parser("drive", help="drive the car autonomously with an ONNX model",
                       description="Camera -> model -> calibration -> serial motor controller at the model's rate. "
                                   "Ctrl-C or SIGTERM stops (neutral first); SIGUSR1 or the e-stop file is the e-stop.")
    d.add_argument("--model", required=True, help="the ONNX model file exported by racekit")
    d.add_argument("--serial", required=True, help="serial port or pyserial URL of the motor controller")
    d.add_argument("--controller", required=True, choices=CONTROLLER_NAMES, help="motor controller protocol")
    d.add_argument("--camera", default="0",
                   help="camera: device index (0), device path (/dev/video0), video file, or scheme:// URL (default 0)")
    d.add_argument("--max-speed", type=float, default=0.5,
                   help="speed cap, fraction 0..1 of the calibrated forward range (default 0.5)")
    d.add_argument("--calibration", help="calibration file from `racekit car calibrate` (default: DeepRacer values)")
    d.add_argument("--log", help="CSV log of every command (default: runs/car/drive-DATE.csv)")
    d.add_argument("--estop-file", help="e-stop: the car stops when this file exists (e.g. touched over ssh)")
    d.add_argument("--duration", type=float, help="stop after this many seconds")
    _serial_options(d)
    d.set_defaults(func=_drive)

    c = sub.add_parser("calibrate", help="find the servo and ESC pulse widths interactively and save them",
                       description="Put the car on a stand (wheels off the ground): this sends live pulses.")
    c.add_argument("--serial", required=True, help="serial port or pyserial URL of the motor controller")
    c.add_argument("--controller", required=True, choices=CONTROLLER_NAMES, help="motor controller protocol")
    c.add_argument("--out", default="car.toml", help="calibration file to write; if it exists, start from it")
    _serial_options(c)
    c.set_defaults(func=_calibrate)


def _serial_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baud", type=int, help="baud rate (default: the controller's own, 115200)")
    p.add_argument("--steering-channel", type=int, default=0, help="maestro: steering servo channel (default 0)")
    p.add_argument("--throttle-channel", type=int, default=1, help="maestro: ESC channel (default 1)")


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _drive(args) -> int:
    from racekit.cli import UserError
    from hardware.errors import HardwareError
    from hardware.service import DriveConfig, drive

    if args.duration is not None and args.duration <= 0:
        raise UserError("--duration must be a positive number of seconds")
    log_path = args.log or os.path.join(
        "runs", "car", f"drive-{datetime.datetime.now():%Y%m%d-%H%M%S}.csv")
    _setup_logging()
    config = DriveConfig(model=args.model, serial=args.serial, controller=args.controller, camera=args.camera,
                         max_speed=args.max_speed, calibration=args.calibration, log=log_path,
                         estop_file=args.estop_file, duration_s=args.duration, baudrate=args.baud,
                         steering_channel=args.steering_channel, throttle_channel=args.throttle_channel)
    try:
        drive(config)  # a bug inside the loop propagates (after neutral) as a traceback, exit 1
    except HardwareError as exc:
        raise UserError(str(exc)) from None
    return 0


def _calibrate(args) -> int:
    from racekit.cli import UserError
    from hardware.calibrate import run_calibration
    from hardware.errors import HardwareError

    _setup_logging()
    try:
        saved = run_calibration(args.controller, args.serial, args.out, baudrate=args.baud,
                                steering_channel=args.steering_channel, throttle_channel=args.throttle_channel)
    except HardwareError as exc:
        raise UserError(str(exc)) from None
    return 0 if saved else 1
