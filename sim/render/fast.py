"""The fast front camera: the flat track world drawn without a rasteriser.

For a pinhole camera over flat ground, image pixels and ground points are related by
a homography, so the ground is one perspective warp of the track texture (exact, not
an approximation). Far away one pixel covers many texels, and a single bilinear
sample per pixel would make the border and centre lines flicker. So each band of
rows samples the level of a mipmap pyramid whose texels match its pixels' width on
the ground, and the picture is drawn at `supersample` times the camera's rows and
averaged down, for the far ground foreshortens most along the view (up the image).
Above the horizon is the sky. Boxes (obstacles, bot cars, other cars) are drawn over
the ground as shaded, near-plane-clipped polygons, farthest first, so nearer boxes
hide farther ones.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from racekit.sim.render.scene import NEAR, SKY, Box, CameraPose, Light

MIN_LEVEL_SIDE = 16  # smallest mipmap level, in texels
MIN_BAND_ROWS = 3  # a band of fewer rows (right under the horizon) is drawn with the next, nearer one
# A band samples the level whose texels are about as wide as its pixels on the ground (2**MIP_BIAS times):
# 0 is closest to an alias-free picture (tests/test_render.py); below 0 is sharper and aliases more
MIP_BIAS = 0.0
SUBPIXEL_BITS = 4  # fillConvexPoly's fixed-point precision for box corners


class FastRenderer:
    """Draws the front camera from the world's ground picture and its boxes."""

    name = "fast"

    def __init__(self, ground_image, light: Light = Light(), supersample: int = 2, sky=SKY):
        self.ground = ground_image  # sim.texture.TrackImage: its image, and metres -> pixels
        self.supersample = supersample
        self.sky_rgb = tuple(sky)  # above the horizon (a look's: sim/looks.py)
        self.set_scene(ground_image.image, light)

    def set_scene(self, rgb: np.ndarray, light: Light) -> None:
        """The ground picture, lit (the ground is flat: one factor), as mipmap pyramids in RGB and gray."""
        self.light = light
        lit = (rgb.astype(np.float32) * light.shade((0.0, 0.0, 1.0))).astype(np.uint8)  # truncates, as TinyRenderer
        self.levels = {3: [lit], 1: [cv2.cvtColor(lit, cv2.COLOR_RGB2GRAY)]}
        for pyramid in self.levels.values():
            while min(pyramid[-1].shape[:2]) > 2 * MIN_LEVEL_SIDE:
                pyramid.append(cv2.pyrDown(pyramid[-1]))
        self.sky = {3: np.array(self.sky_rgb, np.uint8), 1: np.array([gray(self.sky_rgb)], np.uint8)}
        g = self.ground
        # ground metres -> level-0 texel coordinates (cv2 convention: texel centres at integers)
        self._metres_to_texel = np.array([[g.px_per_m, 0.0, -g.xmin * g.px_per_m - 0.5],
                                          [0.0, -g.px_per_m, g.image.shape[0] + g.ymin * g.px_per_m - 0.5],
                                          [0.0, 0.0, 1.0]])

    def render(self, pose: CameraPose, channels: int, boxes: list[Box] = ()) -> np.ndarray:
        """uint8 (height, width, channels) as the camera at `pose` sees the world."""
        k = self.supersample
        width, height = pose.width, pose.height
        # output pixel (col, row), centres at integers -> continuous camera-image coordinates
        to_image = np.array([[1.0, 0.0, 0.5], [0.0, 1.0 / k, 0.5 / k], [0.0, 0.0, 1.0]])
        rays = pose.pixel_rays() @ to_image  # output pixel -> world ray direction
        image = np.empty((height * k, width) if channels == 1 else (height * k, width, 3), np.uint8)
        ray_z = tuple(map(float, rays[2]))  # ray_z = a col + b row + c; plain floats: quicker than numpy's
        top = self._ground(image, pose.eye, rays, ray_z, pose.focal, channels)
        self._sky(image, ray_z, top)
        if boxes:
            draw_boxes(image, pose, boxes, channels, self.light, row_scale=k)
        if k > 1:  # the mean of each k rows (for k = 2 bilinear at exactly half the size is that mean, and quicker)
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR if k == 2 else cv2.INTER_AREA)
        return image.reshape(height, width, channels)

    def _ground(self, out: np.ndarray, eye: np.ndarray, rays: np.ndarray, ray_z: tuple, focal: float,
                channels: int) -> int:
        """Warp the ground into the rows below the horizon; returns the first row that shows ground."""
        h, w = out.shape[:2]
        ex, ey, ez = map(float, eye)
        # a ray from the eye meets z = 0 at eye + t * ray, t = -ez / ray_z: homogeneous (x, y, 1)
        to_ground = np.array([[ez, 0.0, -ex], [0.0, ez, -ey], [0.0, 0.0, -1.0]])
        pixel_to_texel = self._metres_to_texel @ to_ground @ rays
        pyramid = self.levels[channels]
        if ray_z[1] < -1e-9:  # the usual camera: ray_z falls down the image, the ground is below the horizon
            top = _horizon_row(ray_z, w, h)
            bands = _bands(ray_z, top, ez, self.ground.px_per_m, focal, w, h, len(pyramid))
        else:  # looking straight down, or upside down: every row may show ground; the sky is masked per pixel
            bands, top = [(0, h, 0)], 0
        for row0, row1, level in bands:
            band = pixel_to_texel.copy()
            band[:, 2] += row0 * band[:, 1]  # the band's row 0 is the image's row0
            scale = 0.5 ** level  # level 0's texel c is at (c + 0.5) * scale - 0.5 in this level's texels
            band[:2] = scale * band[:2] + (0.5 * scale - 0.5) * band[2]
            cv2.warpPerspective(pyramid[level], band, (w, row1 - row0), dst=out[row0:row1],
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        return top

    def _sky(self, out: np.ndarray, ray_z: tuple, top: int) -> None:
        """Rows above the horizon, and the pixels of a tilted horizon whose rays miss the ground."""
        h, w = out.shape[:2]
        sky = self.sky[out.shape[2] if out.ndim == 3 else 1]
        a, b, c = ray_z  # the ground is where ray_z < 0
        bottom = _horizon_row(ray_z, w, h, lowest=True) if b < -1e-9 else h
        out[:top] = sky
        if bottom > top:
            rows = np.arange(top, bottom)[:, None]
            out[top:bottom][a * np.arange(w)[None, :] + b * rows + c >= 0] = sky


def gray(rgb) -> int:
    """The gray value cv2.COLOR_RGB2GRAY gives a colour."""
    return int(round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]))


def _horizon_row(ray_z, w: int, h: int, lowest: bool = False) -> int:
    """The first row whose rays all reach the ground at (the default) the highest end of a tilted horizon,
    or with `lowest` the row below which every ray does; clamped to [0, h]."""
    a, b, c = ray_z
    if b >= 0:  # looking up so far that no row of the image sees the ground
        return h
    ends = [(-c - a * col) / b for col in (0, w - 1)]  # rows where ray_z = 0 at the left and right edges
    row = math.ceil(max(ends)) if lowest else math.floor(min(ends))
    return int(min(h, max(0, row + (1 if lowest else 0))))


def _bands(ray_z, top: int, eye_z: float, px_per_m: float, focal: float, w: int, h: int, levels: int):
    """(row0, row1, mipmap level) bands of the rows below the horizon, far (top) to near (bottom).

    A pixel at depth d (along the view) is d / focal metres wide on the ground, and d = eye_z / -ray_z
    since the ray's forward component is 1: its width in level-0 texels is K / -ray_z with
    K = eye_z * px_per_m / focal. ray_z is linear in the row (at the centre column), so the rows where
    the width crosses 2, 4, 8... texels are found in closed form."""
    a, b, c = ray_z
    if top >= h:
        return []
    k = eye_z * px_per_m / focal
    col = w / 2
    cuts = [top]
    for level in range(levels - 1, 0, -1):  # the rows where the footprint falls below 2**(level - bias) texels
        row = (-k / 2 ** (level - MIP_BIAS) - c - a * col) / b  # -ray_z = k / 2**(level - bias)
        cuts.append(int(min(h, max(cuts[-1], math.ceil(row)))))
    cuts.append(h)
    bands = []
    for i in range(len(cuts) - 1):  # far to near
        row0, row1, level = cuts[i], cuts[i + 1], levels - 1 - i
        if row1 <= row0:
            continue
        if bands and bands[-1][1] - bands[-1][0] < MIN_BAND_ROWS:  # one warp fewer: a sliver joins the next band
            row0 = bands.pop()[0]
        bands.append((row0, row1, level))
    return bands


# -- boxes -------------------------------------------------------------------------------------------
_CORNERS = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                     [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], np.float64)
# the faces' corners (outline order) and outward normals; no bottom: a box stands on the ground
_FACE_CORNERS = np.array([(4, 5, 6, 7), (0, 1, 5, 4), (2, 3, 7, 6), (1, 2, 6, 5), (3, 0, 4, 7)])
_NORMALS = np.array([(0, 0, 1), (0, -1, 0), (0, 1, 0), (1, 0, 0), (-1, 0, 0)], np.float64)


def draw_boxes(image: np.ndarray, pose: CameraPose, boxes, channels: int, light: Light, row_scale: int = 1) -> None:
    """Boxes over the picture, farthest first; `row_scale` rows of `image` per camera row.

    A bounding sphere per box, tested against the view at once, leaves out the boxes out of view (most
    of them, with six obstacles on a lap) before any of their corners is computed. A box wholly in
    front of the near plane projects its eight corners once; one cut by it clips each face."""
    basis = np.stack([pose.right, pose.up, pose.forward])  # world -> camera (x right, y up, z forward)
    centres = np.array([b.centre for b in boxes], np.float64)
    radius = np.linalg.norm(np.array([b.half for b in boxes], np.float64), axis=1)
    cx, cy, cz = ((centres - pose.eye) @ basis.T).T
    tan_w = math.tan(math.radians(pose.fov_deg) / 2)
    tan_h = tan_w * pose.height / pose.width
    # a sphere is out of view when it is behind the near plane or wholly outside one side of the view
    margin_w, margin_h = radius * math.sqrt(1 + tan_w ** 2), radius * math.sqrt(1 + tan_h ** 2)
    seen = (cz > NEAR - radius) & (np.abs(cx) - tan_w * cz < margin_w) & (np.abs(cy) - tan_h * cz < margin_h)
    focal = pose.focal
    for i in sorted(np.flatnonzero(seen), key=lambda k: -(cx[k] ** 2 + cy[k] ** 2 + cz[k] ** 2)):  # far first
        box = boxes[i]
        c, s = math.cos(box.yaw), math.sin(box.yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        corners = (_CORNERS * box.half) @ rot.T + centres[i]  # (8, 3) in the world
        x, y, z = ((corners - pose.eye) @ basis.T).T
        normals = _NORMALS @ rot.T  # (faces, 3) in the world
        facing = np.einsum("fj,fj->f", normals, pose.eye - corners[_FACE_CORNERS].mean(axis=1)) > 0
        in_front = bool((z >= NEAR).all())
        if in_front:  # every corner projects: once for all faces
            pixels = np.stack([pose.width / 2 + focal * x / z - 0.5, (pose.height / 2 - focal * y / z) * row_scale - 0.5],
                              axis=1)
        for f in np.flatnonzero(facing):
            if in_front:
                poly = pixels[_FACE_CORNERS[f]]
            else:
                poly = pose.project_polygon(corners[_FACE_CORNERS[f]])
                if poly is None:
                    continue
                poly[:, 1] = (poly[:, 1] + 0.5) * row_scale - 0.5
            colour = np.floor(np.asarray(box.rgb, np.float64) * light.shade(normals[f]))  # truncates, as TinyRenderer
            value = (gray(colour),) if channels == 1 else tuple(float(v) for v in colour)
            cv2.fillConvexPoly(image, np.round(poly * (1 << SUBPIXEL_BITS)).astype(np.int32), value, cv2.LINE_8,
                               SUBPIXEL_BITS)
