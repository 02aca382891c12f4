"""`racekit car ...`: drive the real car with a model, calibrate it, serve it, talk to it.

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
    _sensor_options(d)
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

    cc = sub.add_parser("calibrate-cameras", help="measure the stereo pair: the right camera's mount and gain",
                        description="Point the car at a still scene with texture a few metres away (a room, "
                                    "not a blank wall). From one picture of each camera it measures how the right "
                                    "camera is turned against the left one (ORB features, a rotation fitted with "
                                    "RANSAC) and the gain that makes it as bright, prints them and writes them to "
                                    "the calibration file's [camera.right].")
    cc.add_argument("--camera", action="append", required=True,
                    help="the left camera, then the right one (as for `car drive`); one with --stereo-side-by-side")
    cc.add_argument("--stereo-side-by-side", action="store_true",
                    help="the one --camera gives both pictures side by side (left half = left)")
    cc.add_argument("--out", default="car.toml", help="calibration file to write (its other sections are kept)")
    cc.add_argument("--distance", type=float, default=3.0, metavar="M",
                    help="about how far the scene is along the view's middle, metres (default 3): the yaw "
                         "rests on it (the baseline's parallax); the farther the scene, the less it matters")
    cc.add_argument("--fov", type=float, default=120.0, metavar="DEG",
                    help="the cameras' horizontal field of view, as the model's (default 120, racekit's camera)")
    cc.add_argument("--baseline", type=float, default=0.06, metavar="M",
                    help="how far apart the two cameras are, metres (default 0.06, DeepRacer Evo's)")
    cc.set_defaults(func=_calibrate_cameras)

    s = sub.add_parser("serve", help="run the car service: flash models, start/stop, console page (on the car)",
                       description="An HTTP service for `racekit flash` and a browser console. Every request "
                                   "but /health needs the access token, printed once on the first start.")
    s.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0: the local network)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    s.add_argument("--data", default=os.path.join("~", ".racekit", "car"),
                   help="models, calibration, logs and the token hash (default ~/.racekit/car)")
    s.add_argument("--serial", required=True, help="serial port or pyserial URL of the motor controller")
    s.add_argument("--controller", required=True, choices=CONTROLLER_NAMES, help="motor controller protocol")
    _sensor_options(s)
    s.add_argument("--max-upload-mb", type=float, default=64.0, help="largest model accepted (default 64 MB)")
    s.add_argument("--new-token", action="store_true",
                   help="make and print a new access token (the old one stops working)")
    _serial_options(s)
    s.set_defaults(func=_serve)

    for name, helptext in (("status", "show what the car runs: model, running or stopped, loop rate, last command"),
                           ("stop", "stop the car (neutral at once); --estop also keeps it from starting")):
        p = sub.add_parser(name, help=helptext)
        client_options(p)
        if name == "stop":
            p.add_argument("--estop", action="store_true", help="set the e-stop: no start until it is cleared")
        else:
            p.add_argument("--json", action="store_true", help="print the car's answer as JSON")
        p.set_defaults(func=_remote)


def client_options(p: argparse.ArgumentParser) -> None:
    """--car and --token, shared with `racekit flash`."""
    p.add_argument("--car", help="the car service, http://HOST:PORT (default: url in ~/.config/racekit/car.toml)")
    p.add_argument("--token", help="access token (better: $RACEKIT_CAR_TOKEN or the config file, "
                                   "so it stays out of the shell history)")


def _sensor_options(p: argparse.ArgumentParser) -> None:
    """The car's sensors, the same for `car drive` and `car serve`: its camera or stereo pair, its LIDAR."""
    p.add_argument("--camera", action="append",
                   help="camera: device index (0), device path (/dev/video0), video file, or scheme:// URL "
                        "(default 0); twice for a stereo pair: left, then right")
    p.add_argument("--stereo-side-by-side", action="store_true",
                   help="the one --camera is a stereo device giving both pictures side by side (left half = left)")
    p.add_argument("--lidar", metavar="PORT", help="the RPLIDAR's serial port (A1/A2), for a model with a LIDAR")
    p.add_argument("--lidar-mount-yaw", type=float, default=180.0, metavar="DEG",
                   help="where the LIDAR's 0 degrees points on the car, counter-clockwise from straight ahead "
                        "(default 180: facing backward, as on DeepRacer Evo)")
    p.add_argument("--lidar-baud", type=int, help="the LIDAR's baud rate (default 115200: A1, A2)")
    p.add_argument("--lidar-motor-pwm", type=int, help="A2: motor speed 0-1023 (660 is Slamtec's); A1: leave out")


def _sensors(args) -> dict:
    """The sensor options, checked, as DriveConfig's (and ServiceConfig's) fields; UserError if wrong."""
    import math

    from racekit.cli import UserError

    cameras = args.camera or ["0"]
    if len(cameras) > 2:
        raise UserError(f"--camera: at most two (a stereo pair: left, then right), got {len(cameras)}")
    if args.stereo_side_by_side and len(cameras) != 1:
        raise UserError("--stereo-side-by-side: the side-by-side stereo device is one --camera")
    if not math.isfinite(args.lidar_mount_yaw):
        raise UserError("--lidar-mount-yaw must be a number of degrees")
    if args.lidar_motor_pwm is not None and not 0 <= args.lidar_motor_pwm <= 1023:
        raise UserError("--lidar-motor-pwm must be in 0..1023")
    return {"camera": cameras[0], "right_camera": cameras[1] if len(cameras) > 1 else None,
            "side_by_side": args.stereo_side_by_side, "lidar": args.lidar, "lidar_mount_yaw_deg": args.lidar_mount_yaw,
            "lidar_baudrate": args.lidar_baud, "lidar_motor_pwm": args.lidar_motor_pwm}


def _serial_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baud", type=int, help="baud rate (default: the controller's own, 115200)")
    p.add_argument("--steering-channel", type=int, default=0, help="maestro: steering servo channel (default 0)")
    p.add_argument("--throttle-channel", type=int, default=1, help="maestro: ESC channel (default 1)")


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _drive(args) -> int:
    from racekit.cli import UserError
    from racekit.hardware.errors import HardwareError
    from racekit.hardware.service import DriveConfig, drive

    if args.duration is not None and args.duration <= 0:
        raise UserError("--duration must be a positive number of seconds")
    sensors = _sensors(args)
    log_path = args.log or os.path.join(
        "runs", "car", f"drive-{datetime.datetime.now():%Y%m%d-%H%M%S}.csv")
    _setup_logging()
    config = DriveConfig(model=args.model, serial=args.serial, controller=args.controller, **sensors,
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
    from racekit.hardware.calibrate import run_calibration
    from racekit.hardware.errors import HardwareError

    _setup_logging()
    try:
        saved = run_calibration(args.controller, args.serial, args.out, baudrate=args.baud,
                                steering_channel=args.steering_channel, throttle_channel=args.throttle_channel)
    except HardwareError as exc:
        raise UserError(str(exc)) from None
    return 0 if saved else 1


def _calibrate_cameras(args) -> int:
    import math

    from racekit.cli import UserError
    from racekit.hardware.calibrate import run_camera_calibration
    from racekit.hardware.errors import HardwareError

    if len(args.camera) != (1 if args.stereo_side_by_side else 2):
        raise UserError("--camera: two cameras (left, then right), or one with --stereo-side-by-side")
    for name, value, low, high in (("--distance", args.distance, 0.3, 1000.0), ("--fov", args.fov, 10.0, 170.0),
                                   ("--baseline", args.baseline, 0.001, 1.0)):
        if not (math.isfinite(value) and low <= value <= high):
            raise UserError(f"{name} must be in {low:g}..{high:g}, got {value:g}")
    _setup_logging()
    try:
        run_camera_calibration(args.camera, args.out, side_by_side=args.stereo_side_by_side, fov_deg=args.fov,
                               distance_m=args.distance, baseline_m=args.baseline)
    except HardwareError as exc:
        raise UserError(str(exc)) from None
    return 0


def _serve(args) -> int:
    from racekit.cli import UserError
    from racekit.hardware.server.serve import ServiceConfig, serve

    if not 1 <= args.port <= 65535:
        raise UserError("--port must be in 1..65535")
    if not args.max_upload_mb > 0:
        raise UserError("--max-upload-mb must be positive")
    sensors = _sensors(args)
    _setup_logging()
    config = ServiceConfig(data=os.path.expanduser(args.data), serial=args.serial, controller=args.controller,
                           **sensors, host=args.host, port=args.port, baudrate=args.baud,
                           steering_channel=args.steering_channel, throttle_channel=args.throttle_channel,
                           max_upload_bytes=int(args.max_upload_mb * 1024 * 1024))
    try:
        serve(config, new_token=args.new_token)
    except OSError as exc:  # the port is taken, the data directory is not writable
        where = f" ({exc.filename})" if exc.filename else f" (port {args.port})"
        raise UserError(f"car service: {exc.strerror or exc}{where}") from None
    return 0


def connect(args):
    """A CarClient for --car/--token (or the environment and config file); UserError if neither says."""
    from racekit.cli import UserError
    from racekit.hardware.server.client import CarClient, CarError, resolve

    try:
        url, token = resolve(args.car, args.token)
    except CarError as exc:
        raise UserError(str(exc)) from None
    return CarClient(url, token)


def format_status(status: dict) -> str:
    """The car's status as a few readable lines."""
    def model(m):
        if not m:
            return "none"
        sensors = ", ".join(m.get("sensors") or ["front-camera"])
        return f"{m['name']} (sha256 {m['sha256'][:12]}, {m['camera']['width']}x{m['camera']['height']}, {sensors})"

    lines = [f"state:        {status['state']}", f"active model: {model(status.get('active'))}"]
    if status.get("sensors"):  # a car service from before sensors says nothing of them
        lines.append(f"sensors:      {status['sensors']['summary']}")
    if status["running"]:
        hz = status.get("loop_hz")
        lines.append(f"driving with: {model(status.get('model'))}, speed cap {status.get('max_speed')}, "
                     f"loop {'starting' if hz is None else f'{hz:.1f} Hz'}, {status.get('ticks')} ticks")
    elif status.get("stop_reason"):
        lines.append(f"stopped:      {status['stop_reason']}")
    cmd = status.get("last_command")
    if cmd:
        pulses = "not sent" if cmd["steering_us"] is None else f"{cmd['steering_us']:g}/{cmd['throttle_us']:g} us"
        lines.append(f"last command: steering {cmd['steering']:+.2f} throttle {cmd['throttle']:.2f} "
                     f"({pulses}, {cmd['reason']})")
    lines.append(f"last error:   {status.get('last_error') or 'none'}")
    return "\n".join(lines)


def _remote(args) -> int:
    import json

    from racekit.cli import UserError
    from racekit.hardware.server.client import CarError

    client = connect(args)
    try:
        if args.car_command == "stop":
            status = client.estop() if args.estop else client.stop()
        else:
            status = client.status()
    except CarError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(status, indent=1) if getattr(args, "json", False) else format_status(status))
    return 0
