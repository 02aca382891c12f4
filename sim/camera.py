"""Cameras: the car's front camera (the observation) and chase/top-down views for people.

All views are drawn by PyBullet's TinyRenderer (CPU, works headless). The
front camera is a pinhole with a horizontal field of view; its vertical field
of view follows from the aspect ratio, as on a real sensor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import pybullet as p

NEAR, FAR = 0.02, 30.0


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


def render(client: int, eye, target, up, width: int, height: int, vertical_fov_deg: float) -> np.ndarray:
    """An RGB uint8 image (height, width, 3) seen from `eye` towards `target`."""
    view = p.computeViewMatrix(list(eye), list(target), list(up))
    proj = p.computeProjectionMatrixFOV(vertical_fov_deg, width / height, NEAR, FAR)
    _, _, rgba, _, _ = p.getCameraImage(width, height, view, proj, renderer=p.ER_TINY_RENDERER,
                                        flags=p.ER_NO_SEGMENTATION_MASK, shadow=0, physicsClientId=client)
    return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]


def front_camera(client: int, car, spec: CameraSpec) -> np.ndarray:
    """What the car's front camera sees: uint8 (height, width, channels)."""
    eye, forward, up = car.camera_frame()
    rgb = render(client, eye, eye + forward, up, spec.width, spec.height, spec.vertical_fov_deg)
    if spec.channels == 1:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    return rgb


def chase_camera(client: int, car, width: int = 480, height: int = 360) -> np.ndarray:
    """A view from behind and above the car, for videos."""
    x, y, yaw = car.pose()
    back = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    eye = np.array([x, y, 0.0]) - 0.9 * back + [0, 0, 0.55]
    target = np.array([x, y, 0.0]) + 0.6 * back
    return render(client, eye, target, [0, 0, 1], width, height, 60.0)


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
