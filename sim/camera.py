"""Cameras: the car's front camera (the observation) and the chase view for people.

The front camera is a pinhole with a horizontal field of view; its vertical field
of view follows from the aspect ratio, as on a real sensor. It is drawn by one of
the renderers of sim/render/ (the world holds it); the chase view for videos is
always PyBullet's TinyRenderer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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


def camera_pose(car, spec: CameraSpec, jitter: CameraJitter | None = None) -> CameraPose:
    """Where the car's front camera is and looks, with the spec's lens and image size (and a mount's jitter)."""
    eye, forward, up = car.camera_frame()
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
