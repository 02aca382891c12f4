"""`racekit car calibrate`: find the servo and ESC pulse widths by hand, save the TOML file.

Line-based keys on stdin (works over ssh and in tests):
    +  / -     nudge the pulse by 10 us        ++ / --   by 50 us
    1500       set the pulse (microseconds)     ok        accept this step
    q          quit without saving
Every change is sent to the controller at once; a keep-alive thread repeats
the current pulses every 50 ms so the controller's 250 ms failsafe does not
cut in while the user looks at the wheels. On any exit the car goes neutral.

`racekit car calibrate-cameras` (run_camera_calibration, below) measures a stereo pair instead: the
right camera's mount against the left one's and the gain that makes its pictures as bright, from one
picture of each of a still scene, and writes them to the same file's `[camera.right]` section.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from racekit.hardware.calibration import MAX_PULSE_US, MIN_PULSE_US, Calibration, format_calibration, load_calibration, \
    load_camera_calibration, save_calibration
from racekit.hardware.camera import open_camera
from racekit.hardware.camera_calibration import STEREO_BASELINE_M, CameraCalibration, estimate_right_camera
from racekit.hardware.controllers import SerialController, open_controller
from racekit.hardware.errors import CameraError, ControllerError
from racekit.hardware.stereo import split_side_by_side

NUDGES = {"+": 10.0, "-": -10.0, "++": 50.0, "--": -50.0}
PROBE_US = 50.0  # throttle offset used to find which way is forward
KEEPALIVE_S = 0.05


class Quit(Exception):
    """The user typed q, or stdin ended."""


class Session:
    """The live pulses and the keep-alive thread that repeats them."""

    def __init__(self, controller: SerialController, steering_us: float, throttle_us: float):
        self.controller = controller
        self.steering_us, self.throttle_us = steering_us, throttle_us
        self.error: ControllerError | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keepalive, name="calibrate keep-alive", daemon=True)

    def set(self, steering_us: float | None = None, throttle_us: float | None = None) -> None:
        # The lock covers change + send, so a keep-alive can never re-send the old
        # pulses after the new ones went out.
        with self._lock:
            if steering_us is not None:
                self.steering_us = steering_us
            if throttle_us is not None:
                self.throttle_us = throttle_us
            self.controller.send(self.steering_us, self.throttle_us)

    def _keepalive(self) -> None:
        while not self._stop.wait(KEEPALIVE_S):
            try:
                with self._lock:
                    self.controller.send(self.steering_us, self.throttle_us)
            except ControllerError as exc:
                self.error = exc  # reported by the main thread at the next key
                return

    def start(self) -> "Session":
        self.set()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


def _read(inp: TextIO, out: TextIO, prompt: str) -> str:
    out.write(prompt)
    out.flush()
    line = inp.readline()
    if not line:
        raise Quit("end of input")
    key = line.strip().lower()
    if key in ("q", "quit"):
        raise Quit("quit")
    return key


def adjust(session: Session, inp: TextIO, out: TextIO, what: str, output: str, value: float,
           advice: str, accept=lambda v: None) -> float:
    """One step: nudge `output` ('steering' or 'throttle') until "ok"; returns the pulse.

    accept(v) returns an error message to refuse "ok" (e.g. forward on the wrong side of neutral).
    """
    out.write(f"\n== {what} ==\n{advice}\n")
    while True:
        value = min(max(value, MIN_PULSE_US), MAX_PULSE_US)
        session.set(**{f"{output}_us": value})
        if session.error:
            raise session.error
        key = _read(inp, out, f"{what}: {value:g} us  [+ - ++ -- number ok q] > ")
        if key == "ok":
            problem = accept(value)
            if problem is None:
                return value
            out.write(f"not accepted: {problem}\n")
        elif key in NUDGES:
            value += NUDGES[key]
        else:
            try:
                value = float(key)
            except ValueError:
                out.write("keys: + or - (10 us), ++ or -- (50 us), a pulse in us, ok, q\n")


def find_polarity(session: Session, inp: TextIO, out: TextIO, neutral: float) -> int:
    """Probe neutral +/- 50 us and ask which way the wheels turn; +1 if forward is the longer pulse."""
    out.write("\n== throttle direction ==\nThe wheels will turn slowly. Answer f (forward), r (reverse), "
              "or n (nothing moved).\n")
    while True:
        for offset in (PROBE_US, -PROBE_US):
            session.set(throttle_us=neutral + offset)
            key = ""
            while key not in ("f", "r", "n"):
                key = _read(inp, out, f"throttle {neutral + offset:g} us: wheels go f / r / n ? > ")
            session.set(throttle_us=neutral)
            if key != "n":
                forward_is_longer = (key == "f") == (offset > 0)
                return 1 if forward_is_longer else -1
        out.write("Nothing moved either way: is the ESC powered and armed (neutral at power-on)? Trying again.\n")


def calibrate(controller: SerialController, inp: TextIO = sys.stdin, out: TextIO = sys.stdout,
              start: Calibration | None = None) -> Calibration | None:
    """Run the steps against a live controller; the new Calibration, or None if the user quit."""
    start = start or Calibration()
    out.write("Car calibration. PUT THE CAR ON A STAND: the wheels must spin freely.\n"
              "Keys: + / - nudge 10 us, ++ / -- nudge 50 us, a number sets the pulse, ok accepts, q quits.\n")
    session = Session(controller, *start.neutral()).start()
    neutral_now = start.neutral()
    try:
        centre = adjust(session, inp, out, "steering centre", "steering", start.steering_center_us,
                        "Make the front wheels point straight ahead.")
        left = adjust(session, inp, out, "steering left", "steering", start.steering_left_us,
                      "Turn the wheels fully LEFT, just short of where the servo strains.",
                      lambda v: None if v != centre else "left must differ from centre")

        def other_side_of_centre(v):
            return None if (v - centre) * (left - centre) < 0 else "right must be on the other side of centre"

        right = adjust(session, inp, out, "steering right", "steering", start.steering_right_us,
                       "Turn the wheels fully RIGHT.", other_side_of_centre)
        session.set(steering_us=centre)
        neutral = adjust(session, inp, out, "throttle neutral", "throttle", start.throttle_neutral_us,
                         "Find the pulse where the wheels stand still.")
        neutral_now = (centre, neutral)
        polarity = find_polarity(session, inp, out, neutral)

        def side(direction: int, name: str):  # +1: the forward side of neutral, -1: the reverse side
            return lambda v: None if (v - neutral) * polarity * direction > 0 else \
                f"{name} must be on the {name} side of neutral"

        span_f = abs(start.throttle_forward_us - start.throttle_neutral_us)
        forward = adjust(session, inp, out, "throttle max forward", "throttle", neutral + polarity * span_f,
                         "Set the fastest FORWARD speed the car may ever use (--max-speed 1.0).", side(1, "forward"))
        session.set(throttle_us=neutral)
        span_r = abs(start.throttle_reverse_us - start.throttle_neutral_us)
        reverse = adjust(session, inp, out, "throttle max reverse", "throttle", neutral - polarity * span_r,
                         "Set full REVERSE (many ESCs need neutral, reverse, neutral, reverse to engage it).",
                         side(-1, "reverse"))
        return Calibration(centre, left, right, neutral, forward, reverse)
    except Quit as why:
        out.write(f"\ncalibration abandoned ({why}); nothing saved\n")
        return None
    finally:
        session.stop()
        try:
            controller.send(*neutral_now)
        except ControllerError:
            pass  # the port is gone: the controller's failsafe returns it to neutral


def run_calibration(name: str, port: str, out_path: str, *, inp: TextIO = sys.stdin, out: TextIO = sys.stdout,
                    baudrate: int | None = None, steering_channel: int = 0, throttle_channel: int = 1) -> bool:
    """The command: start from `out_path` if it exists, calibrate, save. True if saved."""
    start = load_calibration(out_path) if os.path.exists(out_path) else Calibration()
    if os.path.exists(out_path):
        out.write(f"starting from {out_path}\n")
    controller = open_controller(name, port, baudrate=baudrate, steering_channel=steering_channel,
                                 throttle_channel=throttle_channel)
    try:
        result = calibrate(controller, inp, out, start)
    finally:
        controller.close()
    if result is None:
        return False
    save_calibration(result, out_path)
    out.write(f"\nsaved {out_path}:\n{format_calibration(result)}")
    return True


SETTLE_S = 1.0  # let the cameras' auto exposure settle before the pictures are taken
FIRST_FRAME_S = 5.0


def grab_pair(sources: list[str], side_by_side: bool, settle_s: float = SETTLE_S) -> tuple:
    """One picture from each camera of the pair (two sources; or one side-by-side device, split), taken
    `settle_s` after both deliver. CameraError names a camera that gives nothing."""
    cameras = []
    try:
        for source in sources:
            cameras.append(open_camera(source).start())
        deadline = time.monotonic() + FIRST_FRAME_S
        for camera in cameras:
            while camera.latest() is None:
                if time.monotonic() > deadline:
                    raise CameraError(f"camera {camera.name}: no picture within {FIRST_FRAME_S:g} s")
                time.sleep(0.01)
        time.sleep(settle_s)
        frames = [camera.latest().frame for camera in cameras]
    finally:
        for camera in cameras:
            camera.stop()
    return tuple(split_side_by_side(frames[0])) if side_by_side else (frames[0], frames[1])


def run_camera_calibration(sources: list[str], out_path: str, *, side_by_side: bool = False, fov_deg: float = 120.0,
                           distance_m: float = 3.0, baseline_m: float = STEREO_BASELINE_M,
                           out: TextIO | None = None, settle_s: float = SETTLE_S) -> CameraCalibration:
    """The command: measure the right camera against the left one, print it, and write `[camera.right]` into
    `out_path` (its pulses and other cameras' sections kept; DeepRacer's pulses in a new file)."""
    out = out or sys.stdout
    pulses = load_calibration(out_path) if os.path.exists(out_path) else Calibration()
    cameras = load_camera_calibration(out_path) if os.path.exists(out_path) else {}
    left = cameras.get("left", CameraCalibration())
    pair = grab_pair(sources, side_by_side, settle_s)
    found = estimate_right_camera(*pair, fov_deg, distance_m=distance_m, baseline_m=baseline_m, left=left)
    right = CameraCalibration(found.right.pitch_deg, found.right.roll_deg, found.right.yaw_deg, found.right.gain,
                              cameras["right"].exposure if "right" in cameras else None)
    height, width = pair[0].shape[:2]
    out.write(f"pictures {width}x{height}, field of view {fov_deg:g} deg: {found.matches} features matched, "
              f"{found.inliers} agree on one rotation ({found.rms_px:.2f} px rms)\n"
              f"right camera against the left: pitch {right.pitch_deg:+.2f}, roll {right.roll_deg:+.2f}, "
              f"yaw {right.yaw_deg:+.2f} deg; gain {right.gain:.3f}\n"
              f"  (the yaw takes out the {baseline_m * 100:g} cm baseline's parallax for a scene {distance_m:g} m "
              f"away, {found.parallax_deg:.2f} deg: give --distance as the scene's)\n")
    save_calibration(pulses, out_path, {**cameras, "right": right})
    out.write(f"saved [camera.right] to {out_path}\n")
    return right
