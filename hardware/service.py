"""`racekit car drive`: put the parts together, in the order that keeps the car safe.

1. Check everything the user gave (speed cap, model, calibration, e-stop
   file, that the car has the sensors the model reads, cameras, LIDAR)
   before the motor controller is even opened: a bad model file, or a model
   whose sensors the car lacks, is refused before any motor command.
2. Open the controller. The loop's first ticks send neutral until the
   camera (or stereo pair), the LIDAR and the model have produced an action.
3. Run the loop; on any exit it sends neutral first, then the profile is
   printed and everything is closed.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, TextIO

import cv2

from racekit.hardware.calibration import Calibration, load_calibration, load_camera_calibration
from racekit.hardware.camera import Camera, open_camera
from racekit.hardware.controllers import open_controller
from racekit.hardware.drive import (ActuatorPart, CameraPart, DriveLoop, LidarPart, LogPart, PilotPart, SafetyPart,
                                    latency_report)
from racekit.hardware.errors import HardwareError
from racekit.hardware.lidar import open_lidar
from racekit.hardware.lidar_observation import EVO_MOUNT_YAW_DEG
from racekit.hardware.link import ControllerLink
from racekit.hardware.model import load_policy
from racekit.hardware.safety import EStop, Governor, StopRequest, check_speed_cap, sensor_mismatch
from racekit.hardware.stereo import StereoCameraPart


@dataclass
class DriveConfig:
    model: str
    serial: str
    controller: str
    camera: str = "0"  # the camera, or the left one of a stereo pair
    right_camera: str | None = None  # the right camera of a stereo pair (two devices)
    side_by_side: bool = False  # `camera` is one stereo device: left picture in the left half, right in the right
    lidar: str | None = None  # the RPLIDAR's serial port
    lidar_mount_yaw_deg: float = EVO_MOUNT_YAW_DEG  # where the LIDAR's 0 points on the car (0 ahead, 90 left)
    lidar_baudrate: int | None = None  # None: 115200 (A1, A2)
    lidar_motor_pwm: int | None = None  # A2: motor speed 0-1023; None: DTR only (A1)
    max_speed: float = 0.5  # fraction of the calibrated forward range
    calibration: str | None = None  # None: DeepRacer's defaults
    log: str = "drive.csv"
    estop_file: str | None = None
    duration_s: float | None = None
    baudrate: int | None = None
    steering_channel: int = 0  # maestro only
    throttle_channel: int = 1


def drive(config: DriveConfig, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic, *,
          stop: StopRequest | None = None, camera: Camera | None = None, monitor=None) -> str:
    """Drive until stopped; returns the stop reason. HardwareError for the user's mistakes.

    Signal handlers (SIGINT, SIGTERM, SIGUSR1 = e-stop) are installed when
    called from the main thread. The car service (hardware/server/) runs this
    in a thread and passes the rest:
    - stop: a StopRequest another thread triggers (its stop button): the loop
      wakes at once and sends neutral;
    - camera: a started camera the caller owns and shares (its live view):
      used instead of opening config.camera, and neither started nor stopped here;
    - monitor: one more loop part, run last on every tick including the stop tick.
    """
    try:
        cap = check_speed_cap(config.max_speed)
    except ValueError as exc:
        raise HardwareError(f"--max-speed: {exc}") from None
    policy = load_policy(config.model)
    spec = policy.spec
    calibration = load_calibration(config.calibration) if config.calibration else Calibration()
    camera_cals = load_camera_calibration(config.calibration) if config.calibration else {}
    estop = EStop(config.estop_file)
    if estop.check():
        raise HardwareError(f"{estop.check()} exists: remove it to drive")
    cameras = [config.camera] + ([config.right_camera] if config.right_camera else [])
    mismatch = sensor_mismatch(spec, len(cameras), config.side_by_side, config.lidar is not None)
    if mismatch:
        raise HardwareError(f"{config.model}: {mismatch}")
    # One OpenCV thread: resizing one small frame gains nothing from a thread pool whose
    # threads would compete with the camera thread and onnxruntime on a Pi's 4 cores.
    cv2.setNumThreads(1)
    print(f"model {config.model}: {', '.join(spec.sensors)}, "
          f"{spec.camera.width}x{spec.camera.height}x{spec.camera.channels} "
          f"stack {spec.camera.frame_stack}, {spec.action_space.type} actions, {spec.control_hz:g} Hz; "
          f"speed cap {cap:g}; calibration {config.calibration or 'DeepRacer defaults'}", file=out)
    roles = ("left", "right") if spec.camera.cameras == 2 else ("front",)
    for role in roles:
        if role in camera_cals:
            c = camera_cals[role]
            print(f"{role} camera calibrated: mount pitch {c.pitch_deg:+.2f}, roll {c.roll_deg:+.2f}, "
                  f"yaw {c.yaw_deg:+.2f} deg undone, gain {c.gain:.3f}"
                  + (f", exposure {c.exposure:g}" if c.exposure is not None else ""), file=out)

    def opener():
        return open_controller(config.controller, config.serial, baudrate=config.baudrate, clock=clock,
                               steering_channel=config.steering_channel, throttle_channel=config.throttle_channel)

    with contextlib.ExitStack() as cleanup:  # closes in reverse order, whatever happens below
        def exposure(role: str) -> float | None:
            return camera_cals[role].exposure if role in camera_cals else None

        if camera is None:  # (a camera the caller shares was opened by it, with the driver's exposure)
            first = "left" if config.right_camera or config.side_by_side else "front"
            camera = open_camera(config.camera, clock=clock, exposure=exposure(first)).start()
            cleanup.callback(camera.stop)
        if config.right_camera:
            right = open_camera(config.right_camera, clock=clock, exposure=exposure("right")).start()
            cleanup.callback(right.stop)
            camera_part = StereoCameraPart(camera, right)
        else:
            camera_part = StereoCameraPart(camera, split=True) if config.side_by_side else CameraPart(camera)
        parts = [camera_part]
        if config.lidar is not None:
            lidar = open_lidar(config.lidar, clock=clock, motor_pwm=config.lidar_motor_pwm,
                               **({"baudrate": config.lidar_baudrate} if config.lidar_baudrate else {}))
            cleanup.callback(lidar.stop)
            parts.append(LidarPart(lidar, spec.lidar, spec.lidar_config, mount_yaw_deg=config.lidar_mount_yaw_deg))
        # No command before the loop: its first tick sends one (neutral until the camera
        # and the model have produced an action), so every command sent is in the log.
        link = ControllerLink(opener(), opener, calibration.neutral(), clock=clock)
        cleanup.callback(link.close)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(config.log)), exist_ok=True)
            logger = LogPart(config.log, clock())
        except OSError as exc:
            raise HardwareError(f"{config.log}: cannot write the log ({exc.strerror})") from None
        cleanup.callback(logger.close)
        stop = stop if stop is not None else StopRequest()
        if threading.current_thread() is threading.main_thread():
            stop.install()
            cleanup.callback(stop.uninstall)
        parts += [PilotPart(policy, camera_cals), SafetyPart(Governor(spec.action_space, cap)),
                  ActuatorPart(link, calibration), logger] + ([monitor] if monitor is not None else [])
        loop = DriveLoop(parts, spec.control_hz, stop=stop, estop=estop, clock=clock,
                         emergency_neutral=link.send_neutral)
        sensors = (f"stereo cameras {config.camera} (left) and {config.right_camera} (right)" if config.right_camera
                   else f"side-by-side stereo camera {config.camera}" if config.side_by_side
                   else f"camera {config.camera}")
        if config.lidar is not None:
            sensors += f", LIDAR {config.lidar} (mount yaw {config.lidar_mount_yaw_deg:g} deg)"
        print(f"driving: {sensors}, {config.controller} on {config.serial}, log {config.log}; "
              f"Ctrl-C stops, SIGUSR1 (kill -USR1 {os.getpid()}) "
              + (f"or `touch {config.estop_file}` " if config.estop_file else "") + "is the e-stop",
              file=out, flush=True)
        try:
            return loop.run(config.duration_s)
        finally:
            print(f"stopped ({loop.reason}); {logger.rows} ticks logged to {config.log}; "
                  f"serial failures {link.failures}, reconnects {link.reconnects}", file=out)
            print(loop.profiler.report(), file=out, flush=True)
            print("\n".join(latency_report(loop.profiler.stats(), spec.extra, spec.control_hz)), file=out,
                  flush=True)
