"""The simulator as a stand-in car for `racekit car drive` (`racekit sim serve`), stepped in real time.

In real time (15 Hz by the wall clock; simulated time still drives the physics, one control period
per tick) a SimServer:
- listens as a motor controller on a pseudo-terminal (hardware/virtual.py, any protocol of the car
  runtime), and each tick turns the pulses it holds into fractions with the same calibration as the car
  (Calibration.fractions), then into steering and speed (sim/standin.py: steering * 30 degrees,
  throttle * 4 m/s);
- streams the car's front camera, BGR 160x120 by default, on 127.0.0.1:PORT for
  `--camera sim://127.0.0.1:PORT` (racekit/camera_stream.py);
- writes the start, every lap time (simulated seconds), every off-track and, every few seconds, where
  the car is, as lines to the stream it was given (`out`; none by default).
If the machine cannot keep up, ticks run late rather than in bursts (the simulation then runs slower
than real time) and the count is kept (`late`).
"""
from __future__ import annotations

import threading
import time


class SimServer:
    """The stand-in, its virtual controller and its camera stream, stepped by `run()`."""

    def __init__(self, track, controller: str = "mm1", calibration=None, port: int = 0,
                 camera_size: tuple[int, int] = (160, 120), hz: float = 15.0, offtrack_penalty: float = 2.0,
                 out=None, fov_deg: float = 120.0, camera_mount: str = "racekit", look: str = "racekit"):
        """fov_deg, camera_mount, look: the simulated camera's lens, its place on the car and the world's look,
        as the env's arguments of those names (sim/env.py): a model trained in DeepRacer's simulator drives the
        stand-in seeing what it was trained on with 64.74 degrees, "deepracer", "deepracer"."""
        from racekit.hardware.calibration import Calibration
        from racekit.hardware.virtual import open_virtual_controller
        from racekit.camera_stream import FrameServer
        from racekit.sim.standin import StandIn

        self.calibration = calibration or Calibration()
        self.hz = hz
        self.out = out
        self.standin = StandIn(track, camera_size[0], camera_size[1], control_hz=hz, offtrack_penalty=offtrack_penalty,
                               fov_deg=fov_deg, camera_mount=camera_mount, look=look)
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
        """A line for whoever watches (the `out` stream), if anyone does."""
        if self.out is not None:
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
