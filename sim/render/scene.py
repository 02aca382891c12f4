"""What every front-camera renderer shares: the camera's pose and lens, the boxes in the world, the light."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

NEAR, FAR = 0.02, 30.0  # m: the clipping planes of the camera
SKY = (255, 255, 255)  # RGB above the horizon: TinyRenderer's clear colour


@dataclass(frozen=True)
class Light:
    """One directional light, as TinyRenderer shades: colour * (ambient + diffuse * max(0, normal . direction)).

    Every renderer is given the same light (TinyRenderer explicitly, so its picture does not depend on
    its own defaults); no specular term, so the look of a surface does not depend on the viewpoint.
    """

    direction: tuple[float, float, float] = (0.35, 0.25, 1.0)  # towards the light; normalised on use
    ambient: float = 0.6
    diffuse: float = 0.35

    @functools.cached_property
    def unit(self) -> np.ndarray:
        d = np.asarray(self.direction, np.float64)
        return d / np.linalg.norm(d)

    def shade(self, normal) -> float:
        """Brightness factor of a surface facing `normal` (a unit vector)."""
        return self.ambient + self.diffuse * max(0.0, float(np.dot(normal, self.unit)))


@dataclass(frozen=True)
class Box:
    """A box standing in the world: obstacles, bot cars, other cars."""

    centre: tuple[float, float, float]
    half: tuple[float, float, float]  # half extents along its own x (forward), y, z
    yaw: float  # radians
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class CameraPose:
    """A pinhole camera: where it is, where it looks, and its image (square pixels, horizontal FOV)."""

    eye: np.ndarray  # (3,)
    forward: np.ndarray  # (3,) unit
    up: np.ndarray  # (3,) unit, orthogonal to forward (roll is in here)
    fov_deg: float  # horizontal
    width: int
    height: int

    @property
    def right(self) -> np.ndarray:
        (fx, fy, fz), (ux, uy, uz) = self.forward, self.up
        return np.array([fy * uz - fz * uy, fz * ux - fx * uz, fx * uy - fy * ux])  # forward x up, without np.cross's overhead

    @property
    def focal(self) -> float:
        """Pixels per unit of tan(angle), the same across and up."""
        return (self.width / 2) / math.tan(math.radians(self.fov_deg) / 2)

    @property
    def vertical_fov_deg(self) -> float:
        return math.degrees(2 * math.atan(math.tan(math.radians(self.fov_deg) / 2) * self.height / self.width))

    def scaled(self, width: int, height: int) -> "CameraPose":
        return CameraPose(self.eye, self.forward, self.up, self.fov_deg, width, height)

    def pixel_rays(self) -> np.ndarray:
        """(3, 3) matrix: continuous pixel (col, row, 1), (0, 0) the top-left corner -> world ray direction."""
        f, cx, cy = self.focal, self.width / 2, self.height / 2
        right = self.right
        return np.column_stack([right / f, -self.up / f, self.forward - cx / f * right + cy / f * self.up])

    def project_polygon(self, points: np.ndarray) -> np.ndarray | None:
        """A world polygon's (M, 3) corners -> (K, 2) pixel positions (cv2: centres at integers), clipped to
        the near plane; None when nothing of it is in front of the camera."""
        rel = np.asarray(points, np.float64) - self.eye
        cam = np.stack([rel @ self.right, rel @ self.up, rel @ self.forward], axis=1)
        cam = _clip_near(cam)
        if cam is None:
            return None
        f = self.focal
        col = self.width / 2 + f * cam[:, 0] / cam[:, 2] - 0.5
        row = self.height / 2 - f * cam[:, 1] / cam[:, 2] - 0.5
        return np.stack([col, row], axis=1)


def _clip_near(poly: np.ndarray) -> np.ndarray | None:
    """Sutherland-Hodgman against depth >= NEAR, in camera coordinates (x right, y up, z forward)."""
    inside = poly[:, 2] >= NEAR
    if inside.all():
        return poly
    if not inside.any():
        return None
    out = []
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        a_in, b_in = a[2] >= NEAR, b[2] >= NEAR
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (NEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if len(out) >= 3 else None
