"""The simulator as a stand-in car for `racekit car drive` (`racekit sim serve`), stepped in real time.

In real time (15 Hz by the wall clock; simulated time still drives the physics, one control period
per tick) a SimServer:
- listens as a motor controller on a pseudo-terminal (hardware/virtual.py, any protocol of the car
  runtime), and each tick turns the pulses it holds into fractions with the same calibration as the car
  (Calibration.fractions), then into steering and speed (sim/standin.py: steering * 30 degrees,
  throttle * 4 m/s);
- streams the car's front camera, BGR 160x120 by default, on 127.0.0.1:PORT for
  `--camera sim://127.0.0.1:PORT` (racekit/camera_stream.py); with `sensors` naming "stereo-cameras", the
  stereo pair instead (sim/world.py: grey, 0.06 m apart), each camera its own stream (the left on PORT, the
  right on PORT + 1; grey as BGR, as a USB camera gives it) for `--camera LEFT --camera RIGHT`;
- with a LIDAR among `sensors` (any of its three forms: the car computes the form its model reads), casts
  the car's 64 LIDAR rays (sim/lidar.py) every tick and serves them from a software RPLIDAR A1 on a second
  pseudo-terminal (hardware/virtual_lidar.py: the device's protocol bytes, mounted turned around as on
  DeepRacer Evo, 10 revolutions a second of 200 samples) for `--lidar PTY`: the car's own driver and
  preprocessing read the simulator's scan;
- writes the start, every lap time (simulated seconds), every off-track and, every few seconds, where
  the car is, as lines to the stream it was given (`out`; none by default).
If the machine cannot keep up, ticks run late rather than in bursts (the simulation then runs slower
than real time) and the count is kept (`late`).
"""
from __future__ import annotations

import threading
import time

import numpy as np

LIDAR_SCAN_HZ = 10.0  # the virtual RPLIDAR's revolutions a second (an A1 turns at 5-10 Hz) ...
LIDAR_SAMPLES = 200  # ... and samples a revolution (2000 a second, an A1's standard scan): 2-3 per DeepRacer ray


class SimServer:
    """The stand-in, its virtual controller and its camera stream, stepped by `run()`."""

    def __init__(self, track, controller: str = "mm1", calibration=None, port: int = 0,
                 camera_size: tuple[int, int] = (160, 120), hz: float = 15.0, offtrack_penalty: float = 2.0,
                 out=None, fov_deg: float = 120.0, camera_mount: str = "racekit", look: str = "racekit",
                 sensors=("front-camera",)):
        """fov_deg, camera_mount, look: the simulated camera's lens, its place on the car and the world's look,
        as the env's arguments of those names (sim/env.py): a model trained in DeepRacer's simulator drives the
        stand-in seeing what it was trained on with 64.74 degrees, "deepracer", "deepracer".
        sensors: the car's, as the env's `sensors` (sim/sensors.py's names; SensorError names a bad list)."""
        from racekit.hardware.calibration import Calibration
        from racekit.hardware.virtual import open_virtual_controller
        from racekit.camera_stream import FrameServer
        from racekit.sim.sensors import check_sensors, lidar_of
        from racekit.sim.standin import StandIn

        self.sensors = check_sensors(sensors)
        self.stereo = self.sensors[0] == "stereo-cameras"
        self.calibration = calibration or Calibration()
        self.hz = hz
        self.out = out
        self.standin = StandIn(track, camera_size[0], camera_size[1], control_hz=hz, offtrack_penalty=offtrack_penalty,
                               fov_deg=fov_deg, camera_mount=camera_mount, look=look)
        self.controller = self.frames = self.right_frames = self.lidar_device = self._scene = self._lidar = None
        self.lidar_ranges: np.ndarray | None = None  # the last scan's 64 ranges (m, inf = nothing), ray order
        try:
            self.frames = FrameServer("127.0.0.1", port)
            if self.stereo:
                self.right_frames = FrameServer("127.0.0.1", port + 1 if port else 0)
            # power-up and failsafe at the calibrated neutral, as the car's controller would be set up
            self.controller = open_virtual_controller(controller, neutral=self.calibration.neutral())
            if lidar_of(self.sensors) is not None:
                self._start_lidar()
        except BaseException:
            self.close()
            raise
        for server in self._frame_servers():
            server.start()
        self._publish()  # a frame from the start: the camera opens at once
        self.ticks = self.late = 0
        self._lock = threading.Lock()
        self._state = self.standin.state()

    @property
    def serial(self) -> str:
        """The pseudo-terminal to give `racekit car drive --serial`."""
        return self.controller.port

    @property
    def camera_url(self) -> str:
        """The front camera's stream, or the left camera's of a stereo pair."""
        return self.frames.url

    @property
    def camera_urls(self) -> list[str]:
        """What to give `racekit car drive --camera`, in order: the front camera, or the left then the right."""
        return [server.url for server in self._frame_servers()]

    @property
    def lidar_port(self) -> str | None:
        """The pseudo-terminal to give `racekit car drive --lidar` (None without a LIDAR)."""
        return None if self.lidar_device is None else self.lidar_device.port

    def _frame_servers(self) -> list:
        return [s for s in (self.frames, self.right_frames) if s is not None]

    def _start_lidar(self) -> None:
        from racekit.hardware.virtual_lidar import RangesScene, open_virtual_lidar
        from racekit.sim.lidar import Lidar

        world = self.standin.world
        self._lidar = Lidar(world.client, world.car, world.ground)
        self._scene = RangesScene(self._lidar.scan())
        self.lidar_device = open_virtual_lidar(self._scene, samples_per_rev=LIDAR_SAMPLES, scan_hz=LIDAR_SCAN_HZ)

    def _publish(self) -> None:
        """The cameras' pictures now to their streams, and the LIDAR's scan now to the virtual device."""
        t = self.standin.world.sim_time
        if self.stereo:
            pair = self.standin.world.stereo_cameras(self.standin.camera)  # grey left, grey right
            for server, grey in zip((self.frames, self.right_frames), (pair[:, :, 0], pair[:, :, 1])):
                server.publish(np.repeat(grey[:, :, None], 3, axis=2), t)
        else:
            self.frames.publish(self.standin.frame(), t)
        if self._lidar is not None:
            self.lidar_ranges = self._lidar.scan()
            self._scene.set(self.lidar_ranges)

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
        self._publish()
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
        if self.lidar_device is not None:
            self.lidar_device.stop()
        for server in self._frame_servers():
            server.close()
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
