"""`racekit sim serve`: the simulator as a stand-in car for `racekit car drive`.

In real time (15 Hz by the wall clock; simulated time still drives the
physics, one control period per tick) it:
- listens as a motor controller on a pseudo-terminal (hardware/virtual.py,
  any protocol of the car runtime), and each tick turns the pulses it holds
  into fractions with the same calibration as the car
  (Calibration.fractions), then into steering and speed (sim/standin.py:
  steering * 30 degrees, throttle * 4 m/s);
- streams the car's front camera, BGR 160x120 by default, on 127.0.0.1:PORT
  for `--camera sim://127.0.0.1:PORT` (racekit/camera_stream.py);
- prints the start, every lap time (simulated seconds), every off-track and,
  every few seconds, where the car is.
If the machine cannot keep up, ticks run late rather than in bursts (the
simulation then runs slower than real time) and the count is reported.
"""
from __future__ import annotations

import signal
import sys
import threading
import time

from racekit.cli import UserError

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
    p.add_argument("--laps", type=int, help="stop after this many laps")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--status-every", type=float, default=5.0,
                   help="print where the car is every this many seconds (default 5; 0 = never)")
    p.add_argument("--offtrack-penalty", type=float, default=2.0,
                   help="simulated seconds added when the car is put back on the track (default 2)")
    p.set_defaults(func=run_serve)


class SimServer:
    """The stand-in, its virtual controller and its camera stream, stepped by `run()`."""

    def __init__(self, track, controller: str = "mm1", calibration=None, port: int = 0,
                 camera_size: tuple[int, int] = (160, 120), hz: float = 15.0, offtrack_penalty: float = 2.0,
                 out=sys.stdout):
        from racekit.hardware.calibration import Calibration
        from racekit.hardware.virtual import open_virtual_controller
        from racekit.camera_stream import FrameServer
        from racekit.sim.standin import StandIn

        self.calibration = calibration or Calibration()
        self.hz = hz
        self.out = out
        self.standin = StandIn(track, camera_size[0], camera_size[1], control_hz=hz, offtrack_penalty=offtrack_penalty)
        self.controller = self.frames = None
        try:
            self.frames = FrameServer("127.0.0.1", port)
            # power-up and failsafe at the calibrated neutral, as the car's controller would be set up
            self.controller = open_virtual_controller(controller, neutral=self.calibration.neutral())
        except BaseException:
            self.close()
            raise
        self.frames.start()
        self.frames.publish(self.standin.frame(), 0.0)  # a frame from the start: the camera opens at once
        self.ticks = self.late = 0
        self._lock = threading.Lock()
        self._state = self.standin.state()

    @property
    def serial(self) -> str:
        """The pseudo-terminal to give `racekit car drive --serial`."""
        return self.controller.port

    @property
    def camera_url(self) -> str:
        return self.frames.url

    def state(self):
        """The latest CarState (any thread)."""
        with self._lock:
            return self._state

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def tick(self) -> list:
        """One control period: pulses -> fractions -> the car; then the new frame goes out."""
        steering_us, throttle_us = self.controller.pulses
        steering, throttle = self.calibration.fractions(steering_us, throttle_us)
        events = self.standin.step(steering, throttle)
        self.frames.publish(self.standin.frame(), self.standin.world.sim_time)
        with self._lock:
            self._state = self.standin.state()
        self.ticks += 1
        for event in events:
            self.say(format_event(event))
        return events

    def run(self, stop: threading.Event, duration_s: float | None = None, laps: int | None = None,
            status_every_s: float = 0.0) -> str:
        """Tick at `hz` by the wall clock until `stop`, `duration_s` or `laps`; returns why it ended."""
        period = 1.0 / self.hz
        start = anchor = time.monotonic()
        k, next_status = 0, status_every_s
        while not stop.is_set():
            if duration_s is not None and time.monotonic() - start >= duration_s:
                return "duration"
            self.tick()
            state = self.state()
            if laps is not None and len(state.lap_times) >= laps:
                return f"{laps} lap{'s' if laps > 1 else ''}"
            if status_every_s > 0 and state.sim_time >= next_status:
                # from the clock, not += once: a penalty jumps sim time by seconds
                next_status = (state.sim_time // status_every_s + 1) * status_every_s
                self.say(format_status(state, self.controller.pulses))
            k += 1
            next_t = anchor + k * period  # multiplying, not adding: no drift
            now = time.monotonic()
            if now > next_t:  # late: go on at once, but never in a catch-up burst
                self.late += 1
                anchor, k = now, 0
                continue
            stop.wait(next_t - now)
        return "stop requested"

    def close(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        if self.frames is not None:
            self.frames.close()
        self.standin.close()


def format_event(event) -> str:
    t = f"[sim t {event.sim_time:7.2f} s]"
    if event.kind == "start":
        return f"{t} the car started: lap clock running"
    if event.kind == "lap":
        return f"{t} lap {event.lap}: {event.seconds:.2f} s"
    what = "off track" if event.kind == "off_track" else "crashed"
    return f"{t} {what} at {event.progress:.1f}% of lap {event.lap}: put back on the track, +{event.seconds:g} s"


def format_status(state, pulses) -> str:
    where = (f"lap {len(state.lap_times) + 1} at {state.progress:5.1f}%" if state.started
             else "waiting on the start line")
    return (f"[sim t {state.sim_time:7.2f} s] {where}, {state.speed:4.2f} m/s, steering {state.steering_deg:+5.1f} deg "
            f"(pulses {pulses[0]:g}/{pulses[1]:g} us)")


def summary(server: SimServer, reason: str) -> str:
    state = server.state()
    times = state.lap_times
    laps = (f"{len(times)} laps, best {min(times):.2f} s, mean {sum(times) / len(times):.2f} s" if times
            else "no lap completed")
    return (f"stopped ({reason}): {laps}; off-tracks {state.offtracks}, crashes {state.crashes}; "
            f"{server.ticks} ticks, {server.late} late ({state.sim_time:.1f} s simulated)")


def run_serve(args) -> int:
    from racekit.hardware.calibration import load_calibration
    from racekit.hardware.errors import HardwareError
    from racekit.tracking import track_argument
    from racekit.tracks import DEFAULT_TRACK

    try:
        width, height = (int(v) for v in args.camera_size.lower().split("x"))
    except ValueError:
        raise UserError(f"--camera-size must look like 160x120, got {args.camera_size!r}") from None
    if not (8 <= width <= 4096 and 8 <= height <= 4096):
        raise UserError(f"--camera-size must be between 8x8 and 4096x4096, got {args.camera_size}")
    if not 0 <= args.port <= 65535:
        raise UserError("--port must be in 0..65535")
    for flag, value in (("--laps", args.laps), ("--duration", args.duration)):
        if value is not None and value <= 0:
            raise UserError(f"{flag} must be positive")
    if args.offtrack_penalty < 0:
        raise UserError("--offtrack-penalty must be >= 0")
    track = track_argument(args.track or DEFAULT_TRACK, reverse=args.reverse)
    try:
        calibration = load_calibration(args.calibration) if args.calibration else None
    except HardwareError as exc:
        raise UserError(str(exc)) from None
    try:
        server = SimServer(track, args.controller, calibration, args.port, (width, height),
                           offtrack_penalty=args.offtrack_penalty)
    except OSError as exc:
        raise UserError(f"camera stream on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.say(f"racekit sim serve: {track.name}{' (reversed)' if args.reverse else ''}, "
                   f"{track.length:.1f} m, {server.hz:g} Hz in real time")
        server.say(f"motor controller ({args.controller}) on {server.serial}")
        server.say(f"camera {width}x{height} BGR at {server.camera_url}")
        server.say(f"pulses -> car: calibration {args.calibration or 'DeepRacer defaults'}; "
                   f"steering fraction x 30 deg, throttle fraction x 4 m/s")
        server.say(f"drive it: racekit car drive --model MODEL.onnx --serial {server.serial} "
                   f"--controller {args.controller} --camera {server.camera_url}"
                   + (f" --calibration {args.calibration}" if args.calibration else ""))
        reason = server.run(stop, args.duration, args.laps, args.status_every)
        server.say(summary(server, reason))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.close()
    return 0
