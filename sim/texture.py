"""The track drawn from above: the ground texture of the simulator and the base of track maps.

Image row 0 is the top of the world (y = ymax) and column 0 is x = xmin, so the
picture reads like a map. PyBullet samples textures with v = 0 at the bottom
row, which makes (u, v) = ((x - xmin) / width, (y - ymin) / height).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Colours (RGB) close to DeepRacer's tracks: dark road, white borders, a dashed yellow centre line.
GRASS = (58, 110, 52)
ROAD = (48, 48, 52)
BORDER = (240, 240, 240)
CENTRE = (235, 200, 40)
OBSTACLE = (230, 120, 30)

BORDER_WIDTH_M = 0.05  # DeepRacer's tape is about 2 inches wide
CENTRE_WIDTH_M = 0.03
DASH_M = 0.15
MAX_SIDE_PX = 4096


@dataclass
class TrackImage:
    """An RGB picture of the ground and the mapping from world metres to its pixels."""

    image: np.ndarray  # (rows, cols, 3) uint8 RGB
    xmin: float
    ymin: float
    px_per_m: float

    @property
    def size_m(self) -> tuple[float, float]:
        rows, cols = self.image.shape[:2]
        return cols / self.px_per_m, rows / self.px_per_m

    def to_pixels(self, xy) -> np.ndarray:
        """World (x, y) in metres -> integer pixel (col, row); works on (2,) or (M, 2)."""
        xy = np.asarray(xy, dtype=np.float64)
        rows = self.image.shape[0]
        col = (xy[..., 0] - self.xmin) * self.px_per_m
        row = rows - (xy[..., 1] - self.ymin) * self.px_per_m
        return np.stack([col, row], axis=-1).round().astype(np.int32)


def draw_track(track, px_per_m: float = 128.0, margin: float = 1.5) -> TrackImage:
    """Draw `track` (a tracks.Track) from above, with `margin` metres of grass around it."""
    canvas = blank_canvas(track, px_per_m, margin)
    px_per_m = canvas.px_per_m
    canvas.image[:] = GRASS

    left, right = canvas.to_pixels(track.left_border), canvas.to_pixels(track.right_border)
    n = len(left) if track.closed else len(left) - 1
    for i in range(n):  # one quad per segment: right for any shape, convex or not
        j = (i + 1) % len(left)
        cv2.fillConvexPoly(canvas.image, np.array([left[i], left[j], right[j], right[i]]), ROAD, cv2.LINE_AA)

    def line_px(metres: float) -> int:
        return max(1, int(round(metres * px_per_m)))

    for border in (left, right):
        cv2.polylines(canvas.image, [border], track.closed, BORDER, line_px(BORDER_WIDTH_M), cv2.LINE_AA)
    draw_dashes(canvas, track, line_px(CENTRE_WIDTH_M))
    draw_start_line(canvas, track, line_px(BORDER_WIDTH_M))
    for x, y, size in track.obstacles:
        corner = canvas.to_pixels([[x - size / 2, y - size / 2], [x + size / 2, y + size / 2]])
        cv2.rectangle(canvas.image, tuple(corner[0]), tuple(corner[1]), OBSTACLE, -1)
    return canvas


def blank_canvas(track, px_per_m: float = 128.0, margin: float = 1.5) -> TrackImage:
    """An unpainted picture of the ground around `track`: the pixel grid every look of it is drawn on."""
    xmin, ymin, xmax, ymax = track.bounds(margin)
    px_per_m = min(px_per_m, MAX_SIDE_PX / max(xmax - xmin, ymax - ymin))
    cols, rows = int(np.ceil((xmax - xmin) * px_per_m)), int(np.ceil((ymax - ymin) * px_per_m))
    return TrackImage(np.empty((rows, cols, 3), np.uint8), xmin, ymin, px_per_m)


def draw_dashes(canvas: TrackImage, track, thickness: int, colour=CENTRE) -> None:
    """The dashed centre line."""
    starts = np.arange(0.0, track.length - DASH_M, 2 * DASH_M)
    for s0 in starts:
        pts = canvas.to_pixels(track.point_at(np.linspace(s0, s0 + DASH_M, 4)))
        cv2.polylines(canvas.image, [pts], False, colour, thickness, cv2.LINE_AA)


def draw_start_line(canvas: TrackImage, track, thickness: int, colour=BORDER) -> None:
    a, b = canvas.to_pixels(track.left_border[0]), canvas.to_pixels(track.right_border[0])
    cv2.line(canvas.image, tuple(a), tuple(b), colour, 2 * thickness, cv2.LINE_AA)


def draw_direction_arrow(canvas: TrackImage, track, colour=(255, 60, 60)) -> None:
    """An arrow along the centre line just after the start, showing the driving direction."""
    s0 = min(0.6, 0.1 * track.length)
    tail, tip = canvas.to_pixels(track.point_at(np.array([s0, s0 + min(1.0, 0.1 * track.length)])))
    thickness = max(2, int(0.04 * canvas.px_per_m))
    cv2.arrowedLine(canvas.image, tuple(tail), tuple(tip), colour, thickness, cv2.LINE_AA, tipLength=0.35)
