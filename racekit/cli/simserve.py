"""`racekit sim serve`: the simulator as a stand-in car for `racekit car drive` (racekit/simserver.py),
its lines printed as it runs."""
from __future__ import annotations

import signal
import sys
import threading

from racekit.cli import UserError, options

CONTROLLER_NAMES = ("maestro", "mm1", "racekit")  # as `racekit car drive --controller`
DEFAULT_PORT = 5600


def register_serve(sub) -> None:
    """Add `serve` to the `sim` command group (called from racekit/cli/sim.py)."""
    p = sub.add_parser("serve", help="run the simulated car in real time for `racekit car drive`",
                       description="A virtual motor controller on a pseudo-terminal drives the simulated car; its "
                                   "front camera streams on 127.0.0.1. Point `racekit car drive --serial PTY "
                                   "--camera sim://127.0.0.1:PORT` at the printed addresses. Ctrl-C stops.")
    p.add_argument("--track", default=None, help="built-in track name or track file (default: the default track)")
    p.add_argument("--reverse", action="store_true", help="drive the track the other way")
    p.add_argument("--controller", default="mm1", choices=CONTROLLER_NAMES,
                   help="motor controller protocol to speak (default mm1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"camera stream port on 127.0.0.1 (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--calibration", help="the car's calibration file (default: DeepRacer values, as the car's)")
    p.add_argument("--camera-size", default="160x120", help="camera frames WxH, BGR (default 160x120)")
    p.add_argument("--sensor", action="append", metavar="NAME",
                   help="the car's sensors, as `racekit train --sensor`: front-camera (the default) or "
                        "stereo-cameras (two streams: left on --port, right on --port + 1), and optionally a LIDAR "
                        "(lidar, sector-lidar or discretized-sector-lidar: served raw, on its own pseudo-terminal, "
                        "as an RPLIDAR A1 mounted as on DeepRacer Evo)")
    p.add_argument("--laps", type=int, help="stop after this many laps")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--status-every", type=float, default=5.0,
                   help="print where the car is every this many seconds (default 5; 0 = never)")
    p.add_argument("--offtrack-penalty", type=float, default=2.0,
                   help="simulated seconds added when the car is put back on the track (default 2)")
    p.set_defaults(func=run_serve)


def summary(server, reason: str) -> str:
    state = server.state()
    times = state.lap_times
    laps = (f"{len(times)} laps, best {min(times):.2f} s, mean {sum(times) / len(times):.2f} s" if times
            else "no lap completed")
    return (f"stopped ({reason}): {laps}; off-tracks {state.offtracks}, crashes {state.crashes}; "
            f"{server.ticks} ticks, {server.late} late ({state.sim_time:.1f} s simulated)")


def run_serve(args) -> int:
    from racekit.hardware.calibration import load_calibration
    from racekit.sim.sensors import SensorError, check_sensors
    from racekit.simserver import SimServer
    from racekit.tracks import DEFAULT_TRACK, load_track

    width, height = options.size(args.camera_size, "--camera-size", "160x120", smallest=8)
    if not 0 <= args.port <= 65535:
        raise UserError("--port must be in 0..65535")
    for flag, value in (("--laps", args.laps), ("--duration", args.duration)):
        if value is not None and value <= 0:
            raise UserError(f"{flag} must be positive")
    if args.offtrack_penalty < 0:
        raise UserError("--offtrack-penalty must be >= 0")
    try:
        sensors = check_sensors(args.sensor or ["front-camera"])
    except SensorError as exc:
        raise UserError(f"--sensor: {exc}") from None
    if sensors[0] == "stereo-cameras" and args.port == 65535:
        raise UserError("--port: stereo cameras need two ports (PORT and PORT + 1); give 0..65534")
    track = load_track(args.track or DEFAULT_TRACK, reverse=args.reverse)
    calibration = load_calibration(args.calibration) if args.calibration else None
    try:
        server = SimServer(track, args.controller, calibration, args.port, (width, height),
                           offtrack_penalty=args.offtrack_penalty, out=sys.stdout, sensors=sensors)
    except OSError as exc:
        raise UserError(f"camera stream on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.say(f"racekit sim serve: {track.name}{' (reversed)' if args.reverse else ''}, "
                   f"{track.length:.1f} m, {server.hz:g} Hz in real time")
        server.say(f"motor controller ({args.controller}) on {server.serial}")
        if server.stereo:
            left, right = server.camera_urls
            server.say(f"stereo cameras {width}x{height} grey (sent as BGR): left at {left}, right at {right}")
        else:
            server.say(f"camera {width}x{height} BGR at {server.camera_url}")
        if server.lidar_port:
            server.say(f"LIDAR (RPLIDAR A1 protocol, mounted backward as on DeepRacer Evo) on {server.lidar_port}")
        server.say(f"pulses -> car: calibration {args.calibration or 'DeepRacer defaults'}; "
                   f"steering fraction x 30 deg, throttle fraction x 4 m/s")
        server.say(f"drive it: racekit car drive --model MODEL.onnx --serial {server.serial} "
                   f"--controller {args.controller} " + " ".join(f"--camera {url}" for url in server.camera_urls)
                   + (f" --lidar {server.lidar_port}" if server.lidar_port else "")
                   + (f" --calibration {args.calibration}" if args.calibration else ""))
        reason = server.run(stop, args.duration, args.laps, args.status_every)
        server.say(summary(server, reason))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.close()
    return 0
