"""Other looks of the ground: the floor around the track (grass or indoor floors), the asphalt, the tape.

Most home tracks are laid indoors, on carpet, concrete or wood; the default ground (sim/texture.py's
draw_track) is grass. `draw_look(track, look)` draws the track over another floor with other colours and
textures, on the same pixel grid as draw_track (same bounds, same metres per pixel), so a renderer can swap
one ground picture for the other (FastRenderer.set_scene; World.set_ground for PyBullet's renderers).

Textures are cheap on purpose, since a picture may be drawn every episode: patterns are one byte a texel,
fine grain is one 256-texel noise tile repeated, blotches are coarse noise scaled up, and each colour layer
is two saturating passes.

Named looks of the whole world, ground and sky (`LOOKS`, the env's `look` argument): "racekit" (draw_track's
grass and TinyRenderer's white sky) and "deepracer" (`draw_deepracer`: DeepRacer's simulator tracks, dark
navy asphalt with wide white borders and orange dashes on a mint-green floor, dark teal walls above it).
`look_ground(track, name)` and `look_sky(name)` give a look's ground picture and sky colour.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from racekit.sim.render.scene import SKY, Light
from racekit.sim.texture import (BORDER, BORDER_WIDTH_M, CENTRE, CENTRE_WIDTH_M, GRASS, OBSTACLE, ROAD,
                                 TrackImage, blank_canvas, draw_dashes, draw_start_line, draw_track)

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


# -- named looks -------------------------------------------------------------------------------------
LOOKS = ("racekit", "deepracer")

# DeepRacer's simulator tracks as its camera shows them: the mean colours (RGB) of the three 640x480 frames of
# deepracer-utils' sample (../shared/deepracer-models/deepracer-utils-sample/pictures), and the markings'
# sizes measured on the ground in them (through DeepRacer's camera: sim/camera.py's DEEPRACER_MOUNT).
# The ground's colours are those over the light every renderer shades a flat ground with (Light(): 0.92), so
# the rendered ground has the frames' colours; the sky (their walls) is not lit.
_GROUND_LIGHT = Light().shade((0.0, 0.0, 1.0))
DEEPRACER_SEEN = {"floor": (107, 151, 117), "road": (41, 55, 72), "border": (210, 210, 207),
                  "centre": (211, 130, 10), "wall": (11, 22, 25)}
DEEPRACER_SKY = DEEPRACER_SEEN["wall"]
DEEPRACER_BORDER_M = 0.076  # the white borders: 3 inches (0.078-0.088 m across in the frames, some at a slant)
DEEPRACER_CENTRE_M = 0.025  # the orange centre line: 1 inch
DEEPRACER_DASH_M, DEEPRACER_DASH_PERIOD_M = 0.05, 0.103  # dash, and dash + gap (0.098-0.105 m in the frames)
DEEPRACER_WALL_M = 0.5  # the outer ring of the ground picture in the walls' colour: the floor meets the walls
# there (they stand 3-6 m from the camera in the frames), and beyond it the ground repeats its edge
# Texels per metre: DeepRacer's narrower lens sees the near road in finer pixels than racekit's (1.6 mm at
# the bottom of a 160x120 frame), and the frames show crisp markings there; 256 keeps them sharp. The picture
# is 15 MB for the re:Invent 2018 track, at most 50 MB (larger tracks get fewer texels: texture.MAX_SIDE_PX),
# and an env holds about three times that with the renderers' copies (racekit's look: a quarter of it)
DEEPRACER_PX_PER_M = 256.0


def _unlit(name: str) -> tuple:
    return tuple(int(round(min(255.0, c / _GROUND_LIGHT))) for c in DEEPRACER_SEEN[name])


def draw_deepracer(track, px_per_m: float = DEEPRACER_PX_PER_M, margin: float = 1.5, seed: int = 0) -> TrackImage:
    """`track` from above in DeepRacer's look, on draw_track's pixel grid for the same px_per_m and margin: grainy
    navy asphalt, white borders DEEPRACER_BORDER_M wide with a little grain, square orange dashes, a mint floor
    with a fine grain, and an outer ring of the walls' colour. The grain's features are sized in metres."""
    rng = np.random.default_rng(seed)
    canvas = blank_canvas(track, px_per_m, margin)
    rows, cols = canvas.image.shape[:2]
    ppm = canvas.px_per_m
    canvas.image[:] = _layer(_unlit("floor"), _mix(_blotches(rng, rows, cols, 0.01 * ppm, 3),
                                                   _blotches(rng, rows, cols, 0.3 * ppm, 2)))
    ring = max(1, int(round(DEEPRACER_WALL_M * ppm)))
    wall = _unlit("wall")
    canvas.image[:ring], canvas.image[-ring:], canvas.image[:, :ring], canvas.image[:, -ring:] = wall, wall, wall, wall

    left, right = canvas.to_pixels(track.left_border), canvas.to_pixels(track.right_border)
    n = len(left) if track.closed else len(left) - 1
    mask = np.zeros((rows, cols), np.uint8)
    for i in range(n):  # one quad per segment, as draw_track
        j = (i + 1) % len(left)
        cv2.fillConvexPoly(mask, np.array([left[i], left[j], right[j], right[i]]), 255)
    asphalt = _mix(_grain(rng, rows, cols, 7), _blotches(rng, rows, cols, 0.02 * ppm, 5))
    cv2.copyTo(_layer(_unlit("road"), asphalt), mask, canvas.image)

    mask[:] = 0
    for border in (left, right):
        cv2.polylines(mask, [border], track.closed, 255, max(1, int(round(DEEPRACER_BORDER_M * ppm))), cv2.LINE_AA)
    tape = _layer(_unlit("border"), _mix(_blotches(rng, rows, cols, 0.008 * ppm, 7),
                                         _blotches(rng, rows, cols, 0.04 * ppm, 4)))
    _blend(canvas.image, tape, mask)
    mask[:] = 0
    half = DEEPRACER_CENTRE_M / 2
    for s0 in np.arange(0.0, track.length - DEEPRACER_DASH_M, DEEPRACER_DASH_PERIOD_M):  # square-ended dashes
        s = np.linspace(s0, s0 + DEEPRACER_DASH_M, 4)
        centre, heading = track.point_at(s), track.heading_at(s)
        side = half * np.stack([-np.sin(heading), np.cos(heading)], axis=1)
        outline = np.concatenate([centre + side, (centre - side)[::-1]])
        cv2.fillPoly(mask, [np.round(_subpixels(canvas, outline) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    _blend(canvas.image, np.full_like(canvas.image, _unlit("centre")), mask)
    for x, y, size in track.obstacles:
        corner = canvas.to_pixels([[x - size / 2, y - size / 2], [x + size / 2, y + size / 2]])
        cv2.rectangle(canvas.image, tuple(corner[0]), tuple(corner[1]), OBSTACLE, -1)
    return canvas


def _subpixels(canvas: TrackImage, xy: np.ndarray) -> np.ndarray:
    """World (x, y) -> continuous pixel (col, row) of `canvas` (to_pixels, not rounded)."""
    return np.stack([(xy[:, 0] - canvas.xmin) * canvas.px_per_m,
                     canvas.image.shape[0] - (xy[:, 1] - canvas.ymin) * canvas.px_per_m], axis=1)


def _blend(image: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> None:
    """image = layer where alpha is 255, image where 0, mixed between (the anti-aliased edges), in place."""
    weight = alpha.astype(np.float32) * np.float32(1 / 255)
    image[:] = cv2.blendLinear(layer, image, weight, 1 - weight)


def look_ground(track, look: str) -> TrackImage:
    """The ground picture of a named look (LOOKS): draw_track's, or DeepRacer's over the same ground at
    DEEPRACER_PX_PER_M (randomised looks are drawn on the grid of the one in use: sim/randomizer.py)."""
    if look == "racekit":
        return draw_track(track)
    if look == "deepracer":
        return draw_deepracer(track)
    raise ValueError(f"look must be one of {', '.join(LOOKS)}, got {look!r}")


def look_sky(look: str) -> tuple:
    """The sky colour (RGB) of a named look (LOOKS): what the camera sees above the horizon."""
    if look == "racekit":
        return SKY
    if look == "deepracer":
        return DEEPRACER_SKY
    raise ValueError(f"look must be one of {', '.join(LOOKS)}, got {look!r}")
