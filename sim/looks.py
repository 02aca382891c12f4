"""Other looks of the ground: the floor around the track (grass or indoor floors), the asphalt, the tape.

Most home tracks are laid indoors, on carpet, concrete or wood; the default ground (sim/texture.py's
draw_track) is grass. `draw_look(track, look)` draws the track over another floor with other colours and
textures, on the same pixel grid as draw_track (same bounds, same metres per pixel), so a renderer can swap
one ground picture for the other (FastRenderer.set_scene; World.set_ground for PyBullet's renderers).

Textures are cheap on purpose, since a picture may be drawn every episode: patterns are one byte a texel,
fine grain is one 256-texel noise tile repeated, blotches are coarse noise scaled up, and each colour layer
is two saturating passes.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from racekit.sim.texture import (BORDER, BORDER_WIDTH_M, CENTRE, CENTRE_WIDTH_M, GRASS, OBSTACLE, ROAD,
                                 TrackImage, blank_canvas, draw_dashes, draw_start_line)

TILE = 256  # texels of the repeated grain tile (2 m at 128 texels per m)
# floor -> base colours (RGB) it picks from
FLOOR_COLOURS = {
    "grass": [GRASS, (70, 120, 50), (50, 95, 45), (85, 125, 60)],
    "carpet": [(95, 100, 115), (150, 135, 110), (110, 45, 45), (60, 60, 65), (70, 95, 80), (170, 160, 150)],
    "concrete": [(150, 150, 148), (125, 125, 128), (175, 170, 160), (105, 105, 105)],
    "wood": [(160, 110, 65), (190, 145, 95), (125, 80, 50), (210, 175, 125)],
    "tiles": [(215, 210, 200), (180, 180, 185), (140, 110, 90), (225, 225, 225)],
}


@dataclass(frozen=True)
class Look:
    """One look of the ground. The default is draw_track's (but drawn with grain: use draw_track for that one)."""

    floor: str = "grass"  # one of FLOOR_COLOURS, or "plain" (floor_rgb, flat)
    floor_rgb: tuple = GRASS
    road_rgb: tuple = ROAD
    road_texture: float = 0.0  # strength of the asphalt's grain, gray levels
    border_rgb: tuple = BORDER
    centre: str = "dashed"  # "dashed", "solid" or "none"
    centre_rgb: tuple = CENTRE
    seed: int = 0  # the grain, planks and tiles


def draw_look(track, look: Look, px_per_m: float = 128.0, margin: float = 1.5) -> TrackImage:
    """`track` from above in `look`, on draw_track's pixel grid for the same px_per_m and margin."""
    rng = np.random.default_rng(look.seed)
    canvas = blank_canvas(track, px_per_m, margin)
    rows, cols = canvas.image.shape[:2]
    canvas.image[:] = _floor(rng, look, rows, cols, canvas.px_per_m)

    left, right = canvas.to_pixels(track.left_border), canvas.to_pixels(track.right_border)
    n = len(left) if track.closed else len(left) - 1
    quads = [np.array([left[i], left[(i + 1) % len(left)], right[(i + 1) % len(left)], right[i]]) for i in range(n)]
    if look.road_texture > 0:  # one quad per segment, as draw_track (the border tape covers the hard edge)
        mask = np.zeros((rows, cols), np.uint8)
        for quad in quads:
            cv2.fillConvexPoly(mask, quad, 255)
        grain = _mix(_grain(rng, rows, cols, look.road_texture),
                     _blotches(rng, rows, cols, 0.5 * canvas.px_per_m, 0.3 * look.road_texture))
        cv2.copyTo(_layer(look.road_rgb, grain), mask, canvas.image)
    else:
        for quad in quads:
            cv2.fillConvexPoly(canvas.image, quad, look.road_rgb)

    def line_px(metres: float) -> int:
        return max(1, int(round(metres * canvas.px_per_m)))

    for border in (left, right):
        cv2.polylines(canvas.image, [border], track.closed, look.border_rgb, line_px(BORDER_WIDTH_M), cv2.LINE_AA)
    if look.centre == "dashed":
        draw_dashes(canvas, track, line_px(CENTRE_WIDTH_M), look.centre_rgb)
    elif look.centre == "solid":
        centre = canvas.to_pixels(track.point_at(np.arange(0.0, track.length, 0.05)))
        cv2.polylines(canvas.image, [centre], track.closed, look.centre_rgb, line_px(CENTRE_WIDTH_M), cv2.LINE_AA)
    draw_start_line(canvas, track, line_px(BORDER_WIDTH_M), look.border_rgb)
    for x, y, size in track.obstacles:
        corner = canvas.to_pixels([[x - size / 2, y - size / 2], [x + size / 2, y + size / 2]])
        cv2.rectangle(canvas.image, tuple(corner[0]), tuple(corner[1]), OBSTACLE, -1)
    return canvas


def _floor(rng, look: Look, rows: int, cols: int, px_per_m: float) -> np.ndarray:
    """The floor's picture, (rows, cols, 3) uint8: a base colour, modulated by its kind's pattern."""
    kind = look.floor
    if kind == "plain":  # one flat colour: the floor left as it is while the rest of the look changes
        return np.full((rows, cols, 3), look.floor_rgb, np.uint8)
    if kind == "grass":  # patchy green, fine blades
        shade = _mix(_grain(rng, rows, cols, 8), _blotches(rng, rows, cols, 0.4 * px_per_m, 10))
    elif kind == "carpet":  # fine, even pile
        shade = _mix(_grain(rng, rows, cols, 12), _blotches(rng, rows, cols, 0.8 * px_per_m, 3))
    elif kind == "concrete":  # gray with broad blotches and a little grit
        shade = _mix(_grain(rng, rows, cols, 4), _blotches(rng, rows, cols, 0.3 * px_per_m, 14))
    elif kind == "wood":
        shade = _planks(rng, rows, cols, px_per_m)
    elif kind == "tiles":
        shade = _tiles(rng, rows, cols, px_per_m)
    else:
        raise ValueError(f"floor must be one of {', '.join(FLOOR_COLOURS)}, got {kind!r}")
    return _layer(look.floor_rgb, shade)


# Patterns are uint8 (rows, cols) offsets stored as MID + offset: one byte a texel, and cv2 saturates the sums.
MID = 128


def _layer(rgb, shade: np.ndarray) -> np.ndarray:
    """A colour plus a pattern (MID + offset) -> uint8 RGB, saturating: per channel, either colour - MID is
    added or MID - colour subtracted (the other is 0), two quick passes."""
    out = cv2.merge([shade] * 3)
    cv2.add(out, tuple(float(max(c - MID, 0)) for c in rgb) + (0.0,), dst=out)
    cv2.subtract(out, tuple(float(max(MID - c, 0)) for c in rgb) + (0.0,), dst=out)
    return out


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sum of two patterns' offsets."""
    return cv2.addWeighted(a, 1.0, b, 1.0, -MID)


def _pattern(offsets: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(offsets) + MID, 0, 255).astype(np.uint8)


def _grain(rng, rows: int, cols: int, amplitude: float) -> np.ndarray:
    """Gaussian texel noise of sigma `amplitude` gray levels: one tile repeated."""
    tile = _pattern(rng.standard_normal((TILE, TILE), dtype=np.float32) * np.float32(amplitude))
    return np.ascontiguousarray(cv2.repeat(tile, -(-rows // TILE), -(-cols // TILE))[:rows, :cols])


def _blotches(rng, rows: int, cols: int, cell_px: float, amplitude: float) -> np.ndarray:
    """Smooth noise of features about `cell_px` across, about +-amplitude gray levels: a coarse grid,
    smoothed there (cheap), then scaled up bilinearly."""
    cell = max(2.0, cell_px / 2)
    coarse = rng.standard_normal((int(rows / cell) + 3, int(cols / cell) + 3), dtype=np.float32)
    coarse = _pattern(cv2.GaussianBlur(coarse, (0, 0), 1.0) * np.float32(2 * amplitude))  # the blur halves it
    return cv2.resize(coarse, (cols, rows), interpolation=cv2.INTER_LINEAR)


def _planks(rng, rows: int, cols: int, px_per_m: float) -> np.ndarray:
    """Planks 8-20 cm wide along x or y, each its own shade, with grain along them and dark joints."""
    along_x = bool(rng.integers(2))
    length, across = (cols, rows) if along_x else (rows, cols)
    width = int(rng.uniform(0.08, 0.2) * px_per_m)
    shade = np.repeat(rng.normal(0.0, 12.0, across // width + 1).astype(np.float32), width)[:across]
    shade[::width] -= 45  # the joints
    streaks = rng.standard_normal((across, max(2, length // 48)), dtype=np.float32) * 7 + shade[:, None]
    pattern = cv2.resize(_pattern(streaks), (length, across), interpolation=cv2.INTER_LINEAR)  # along the plank
    return np.ascontiguousarray(pattern if along_x else pattern.T)


def _tiles(rng, rows: int, cols: int, px_per_m: float) -> np.ndarray:
    """Square tiles of 25-60 cm, each its own shade, with grout lines between them."""
    side = int(rng.uniform(0.25, 0.6) * px_per_m)
    cells = _pattern(rng.normal(0.0, 6.0, (rows // side + 1, cols // side + 1)))
    shade = cv2.resize(cells, None, fx=side, fy=side, interpolation=cv2.INTER_NEAREST)
    shade = np.ascontiguousarray(shade[:rows, :cols])
    for start in range(max(1, side // 30)):  # the grout
        shade[start::side, :] = MID - 60
        shade[:, start::side] = MID - 60
    return _mix(shade, _grain(rng, rows, cols, 3))
