"""Cameras: the car's front camera (the observation) and the chase view for people.

The front camera is a pinhole with a horizontal field of view; its vertical field
of view follows from the aspect ratio, as on a real sensor. It is drawn by one of
the renderers of sim/render/ (the world holds it); the chase view for videos is
always PyBullet's TinyRenderer.

Where the camera sits on the car is a mount (`MOUNTS`): "racekit" is racekit's car (CarSpec's
camera_ahead, camera_height, camera_pitch_deg: 0.14 m ahead, 0.14 m up, 15 degrees down) and
"deepracer" is DeepRacer's simulator car (`DEEPRACER_MOUNT`, below), for models trained there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from racekit.sim.render import CameraPose
from racekit.sim.render.pybullet_camera import render_rgb
from racekit.sim.render.scene import FAR, NEAR


@dataclass(frozen=True)
class CameraSpec:
    width: int = 80
    height: int = 60
    channels: int = 1  # 1 = grayscale, 3 = RGB
    fov_deg: float = 120.0  # horizontal

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"camera channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.width < 8 or self.height < 8:
            raise ValueError(f"camera size must be at least 8x8, got {self.width}x{self.height}")
        if not 10.0 <= self.fov_deg < 170.0:
            raise ValueError(f"camera fov_deg must be in [10, 170), got {self.fov_deg}")

    @property
    def vertical_fov_deg(self) -> float:
        return math.degrees(2 * math.atan(math.tan(math.radians(self.fov_deg) / 2) * self.height / self.width))


@dataclass(frozen=True)
class CameraJitter:
    """A camera mount off by a little (domain randomisation, sim/randomizer.py): added to the car's camera."""

    height: float = 0.0  # m, along the car's up
    pitch_deg: float = 0.0  # more down
    roll_deg: float = 0.0  # the camera turned clockwise about its view (as seen from behind)
    yaw_deg: float = 0.0  # to the left
    fov_deg: float = 0.0  # added to the horizontal field of view, kept in [10, 169]


@dataclass(frozen=True)
class CameraMount:
    """Where the front camera sits on a car resting on flat ground: metres ahead of the car's centre (the
    middle between the axles), metres above the ground, and degrees pitched down."""

    ahead: float
    height: float
    pitch_deg: float


def _deepracer_mount() -> CameraMount:
    """The camera of DeepRacer's simulator car, from its URDF (aws-deepracer-community/deepracer-simapp,
    bundle/urdf/deepracer/deepracer_single_cam.urdf; the camera sensor of racecar.gazebo sits on camera_link
    with pose 0 and horizontal_fov 1.13 rad):
    - zed_camera_joint: zed_camera_link at xyz (0.091711, 0, 0.080023) in the chassis frame, rpy (0, 0.2618, 0):
      pitched 15 degrees down;
    - camera_joint: camera_link at xyz (0.044755, 0, 0.04) in zed_camera_link's (pitched) frame;
    - the wheels: rear at chassis z 0.01575 (left_rear_wheel_joint, x -0.081663), front at z 0.011759
      (left_steering_hinge_joint, x 0.082311; the wheel joint adds nothing), all of radius 0.036 m
      (bundle/meshes/deepracer/left_rear_wheel.STL).
    The front wheel centres sit 4 mm higher on the chassis than the rear ones, so the car rests on its four
    wheels nose up by atan(0.003991 / 0.163974) = 1.39 degrees: the camera looks 13.61 degrees down, from
    0.1328 m above the ground, 0.1427 m ahead of the middle between the axles. DeepRacer's own frames agree
    (deepracer-utils' sample pictures, 640x480): their horizon is at row 118.6 (13.5 degrees down at
    1.13 rad), and the centre line's dashes come out evenly spaced (0.103 m) over the ground at this pitch
    and height, not at 15 or 12 degrees."""
    pitch = 0.2618
    camera = np.array([0.091711, 0.080023]) + np.array([[math.cos(pitch), math.sin(pitch)],
                                                         [-math.sin(pitch), math.cos(pitch)]]) @ [0.044755, 0.04]
    rear, front, radius = np.array([-0.081663, 0.01575]), np.array([0.082311, 0.011759]), 0.036
    tilt = math.atan2(rear[1] - front[1], front[0] - rear[0])  # nose up
    rotate = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])  # (x, z), nose up
    camera, rear, front = rotate @ camera, rotate @ rear, rotate @ front
    return CameraMount(ahead=float(camera[0] - (rear[0] + front[0]) / 2), height=float(camera[1] - rear[1] + radius),
                       pitch_deg=math.degrees(pitch - tilt))


DEEPRACER_MOUNT = _deepracer_mount()  # about 0.1427 m ahead, 0.1328 m up, 13.61 degrees down
DEEPRACER_FOV_DEG = math.degrees(1.13)  # DeepRacer's simulator camera: horizontal_fov 1.13 rad, 64.74 degrees
MOUNTS = ("racekit", "deepracer")
# DeepRacer Evo's stereo pair: two cameras of the front camera's mount, 0.03 m left and right of the middle
# (deepracer_stereo_cam.urdf: zed_camera_joint_leftcam / _rightcam at y +/-0.03)
STEREO_BASELINE = 0.06


def mounted(car_spec, mount: str):
    """`car_spec` (a CarSpec) with its camera where `mount` puts it: "racekit" leaves it as it is."""
    if mount == "racekit":
        return car_spec
    if mount == "deepracer":
        m = DEEPRACER_MOUNT
        return replace(car_spec, camera_ahead=m.ahead, camera_height=m.height, camera_pitch_deg=m.pitch_deg)
    raise ValueError(f"camera_mount must be one of {', '.join(MOUNTS)}, got {mount!r}")


def camera_pose(car, spec: CameraSpec, jitter: CameraJitter | None = None, lateral: float = 0.0) -> CameraPose:
    """Where the car's front camera is and looks, with the spec's lens and image size (and a mount's jitter);
    `lateral` m to the left of the car's middle for one camera of a stereo pair."""
    eye, forward, up = car.camera_frame()
    if lateral:
        eye = eye - lateral * _cross(forward, up)  # forward x up points right
    if jitter is None:
        return CameraPose(eye, forward, up, spec.fov_deg, spec.width, spec.height)
    pitch = math.radians(car.spec.camera_pitch_deg)
    eye = eye + jitter.height * (math.cos(pitch) * up - math.sin(pitch) * forward)  # along the chassis' up
    right = _cross(forward, up)
    yaw, down, roll = (math.radians(a) for a in (jitter.yaw_deg, jitter.pitch_deg, jitter.roll_deg))
    forward = math.cos(yaw) * forward - math.sin(yaw) * right  # turn left about up
    right = _cross(forward, up)
    forward, up = math.cos(down) * forward - math.sin(down) * up, math.sin(down) * forward + math.cos(down) * up
    up = math.cos(roll) * up + math.sin(roll) * right  # about forward: the top of the picture turns right
    fov = min(169.0, max(10.0, spec.fov_deg + jitter.fov_deg))
    return CameraPose(eye, forward, up, fov, spec.width, spec.height)


def _cross(a, b) -> np.ndarray:
    """a x b for 3-vectors, without np.cross's overhead (it runs every step)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def chase_camera(client: int, car, width: int = 480, height: int = 360) -> np.ndarray:
    """A view from behind and above the car, for videos."""
    x, y, yaw = car.pose()
    back = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    eye = np.array([x, y, 0.0]) - 0.9 * back + [0, 0, 0.55]
    target = np.array([x, y, 0.0]) + 0.6 * back
    return render_rgb(client, eye, target, [0, 0, 1], width, height, 60.0)


def in_view(car, spec: CameraSpec, points) -> np.ndarray:
    """For each world point (x, y, z): is it inside the front camera's field of view?"""
    eye, forward, up = car.camera_frame()
    right = np.cross(forward, up)
    rel = np.asarray(points, dtype=np.float64) - eye
    depth = rel @ forward
    with np.errstate(divide="ignore", invalid="ignore"):
        horizontal = np.abs(rel @ right) / depth
        vertical = np.abs(rel @ up) / depth
    return ((depth > NEAR) & (depth < FAR) & (horizontal <= math.tan(math.radians(spec.fov_deg) / 2))
            & (vertical <= math.tan(math.radians(spec.vertical_fov_deg) / 2)))
