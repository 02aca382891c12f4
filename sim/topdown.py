"""Top-down pictures: the whole track with the car on it, and track maps with a driven line."""
from __future__ import annotations

import math

import cv2
import numpy as np

from racekit.sim.texture import TrackImage

CAR_LENGTH, CAR_WIDTH = 0.26, 0.16


def scaled(canvas: TrackImage, max_side: int = 640) -> TrackImage:
    """A smaller copy of a track picture for views and maps."""
    rows, cols = canvas.image.shape[:2]
    k = min(1.0, max_side / max(rows, cols))
    image = cv2.resize(canvas.image, (max(1, round(cols * k)), max(1, round(rows * k))), interpolation=cv2.INTER_AREA)
    return TrackImage(image, canvas.xmin, canvas.ymin, canvas.px_per_m * image.shape[1] / cols)


def draw_car(canvas: TrackImage, x: float, y: float, yaw: float, colour=(220, 40, 30)) -> None:
    c, s = math.cos(yaw), math.sin(yaw)
    half = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [CAR_LENGTH / 2, CAR_WIDTH / 2]
    corners = np.array([x, y]) + half @ np.array([[c, s], [-s, c]])
    # scale the car up on small pictures so it stays visible
    k = max(1.0, 6.0 / (CAR_WIDTH * canvas.px_per_m))
    corners = np.array([x, y]) + (corners - [x, y]) * k
    cv2.fillConvexPoly(canvas.image, canvas.to_pixels(corners), colour, cv2.LINE_AA)


def topdown_view(env) -> np.ndarray:
    """The whole track from above with the car on it (RGB)."""
    if getattr(env, "_topdown_base", None) is None:
        env._topdown_base = scaled(env.world.ground_image)
    base = env._topdown_base
    canvas = TrackImage(base.image.copy(), base.xmin, base.ymin, base.px_per_m)
    draw_car(canvas, *env.world.car.pose())
    return canvas.image
