"""Domain randomisation applied to one env: draws a `Randomization`'s values and puts them in the world.

Every value comes from the env's `np_random`: one number per episode seeds a generator per field, so a seed
repeats an episode exactly, and switching one field off leaves what the others draw unchanged. Per episode:
the look of the ground (every `look_every` episodes) and the light, given to the renderer; distractor boxes
beside the track; the camera mount; the car's latency, trim, servo slew, speed gain and grip; the picture's
brightness, contrast, gamma, colour cast, blur, noise level and JPEG quality. Per step: the pixel noise.

The picture is changed after rendering (blur, one lookup table for brightness, contrast, gamma and cast,
noise, then JPEG), so every renderer gets it alike. A gray frame gets the cast's luma-weighted mean gain.
"""
from __future__ import annotations

import dataclasses
import math
from collections import deque

import cv2
import numpy as np

from racekit.sim.camera import CameraJitter
from racekit.sim.looks import FLOOR_COLOURS, Look, draw_look
from racekit.sim.randomization import COLOURS, LOOK_FIELDS, RANGES, Randomization
from racekit.sim.render import Box, Light
from racekit.sim.texture import BORDER, CENTRE, GRASS, ROAD

LOOK_SEED = 28  # the ground texture's generator
NOISE_STREAM = 29  # the per-step pixel noise
LIDAR_STREAM = 30  # the per-scan LIDAR noise and dropped rays
# each field's own generator: [episode seed, index]; the fields after the first 28 skip the streams' numbers, so
# every draw made before the sensor fields came stays what it was
FIELD_INDEX = {name: i if i < LOOK_SEED else i + 3 for i, name in enumerate(RANGES)}
NOISE_BANK = 4  # frames' worth of noise drawn per episode; each step reads a window of it at a random offset
MIN_BLUR = 0.1  # px: a smaller sigma is no blur
PARK_HEIGHT = 1000.0  # m: unused distractors wait far above the track, out of every view
DISTRACTOR_CLEARANCE = 0.1  # m between a distractor's bounding circle and the road, anywhere on the lap


def distractor_boxes(count: int) -> list[Box]:
    """The distractors' shapes: fixed and varied (cartons, bins, furniture feet), from a fixed seed."""
    rng = np.random.default_rng(2024)
    half = rng.uniform([0.05, 0.05, 0.04], [0.25, 0.2, 0.3], (count, 3))
    return [Box((0.0, 0.0, float(h[2])), tuple(map(float, h)), 0.0, (200, 200, 200)) for h in half]


class Randomizer:
    """What one env randomises; the env calls `reset` per episode, `command` per step and `picture` per frame."""

    def __init__(self, config: Randomization, world, track, car_spec):
        self.config, self.world, self.track, self.car_spec = config, world, track, car_spec
        self.base_image = world.ground_image.image  # the default look (draw_track's)
        self.base_light = world.renderer.light
        self.look: Look | None = None
        self._look_drawn: dict = {}  # the look fields' values the look in use was drawn with
        self.image = self.base_image
        n = config.distractors[1] if config.distractors else 0
        self.distractors = [world.add_scenery(box) for box in distractor_boxes(n)]
        self._park_all()
        self.drawn: dict = {}
        self._queue: deque = deque()
        self._lut = self._blur = self._noise = self._jpeg = None
        self._noise_rng = self._bank = None
        self._trim, self._gain = 0.0, 1.0

    # -- per episode ---------------------------------------------------------------------------------
    def reset(self, rng, episode: int) -> dict:
        """Draw this episode's values (episode: the env's episode index, for look_every) and apply them;
        returns what was drawn, field -> value, for the fields that are on."""
        seed = int(rng.integers(2 ** 63))
        values = {name: self._draw(name, seed) for name in self.config.enabled}
        self.drawn = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
        self._scene(values, seed, episode)
        self._place_distractors(values.get("distractors", 0),
                                np.random.default_rng([seed, FIELD_INDEX["distractors"]]))
        self._camera(values, seed)
        self._dynamics(values)
        self._picture(values, seed)
        self._lidar_noise, self._lidar_dropout = values.get("lidar_noise", 0.0), values.get("lidar_dropout", 0.0)
        self._lidar_rng = np.random.default_rng([seed, LIDAR_STREAM])
        return dict(self.drawn)

    def _draw(self, name: str, seed: int):
        value = getattr(self.config, name)
        g = np.random.default_rng([seed, FIELD_INDEX[name]])
        kind = RANGES[name][0]
        if kind == "choice":
            return value[int(g.integers(len(value)))]
        if kind == "int":
            return int(g.integers(value[0], value[1] + 1))
        if name == "colour_cast":  # one gain per channel
            return tuple(float(v) for v in g.uniform(value[0], value[1], 3))
        return float(g.uniform(value[0], value[1]))

    def _scene(self, values: dict, seed: int, episode: int) -> None:
        """A new ground picture (every look_every episodes) and the light, to the renderer."""
        new_look = self.config.changes_look and (self.look is None or episode % self.config.look_every == 0)
        if new_look:
            self.look = self._look(values, seed)
            # on the world's ground grid (a look such as "deepracer" may draw finer than draw_track's default)
            self.image = draw_look(self.track, self.look, px_per_m=self.world.ground_image.px_per_m).image
            self._look_drawn = {k: self.drawn[k] for k in LOOK_FIELDS if k in self.drawn}
        self.drawn.update(self._look_drawn)  # the look in use: drawn this episode or kept from an earlier one
        light = self._light(values)
        if new_look or light != self.world.renderer.light:
            self.world.set_scene(self.image, light, key=self.look)
        if self.look is not None:
            self.drawn["look"] = dataclasses.asdict(self.look)

    def _look(self, values: dict, seed: int) -> Look:
        floor = values.get("floors")
        if floor is None:
            floor, floor_rgb = "plain", GRASS
        else:
            g = np.random.default_rng([seed, FIELD_INDEX["floors"], 1])
            base = np.array(FLOOR_COLOURS[floor][int(g.integers(len(FLOOR_COLOURS[floor])))], np.float64)
            floor_rgb = tuple(int(c) for c in np.clip(base * g.uniform(0.85, 1.15, 3), 0, 255))
        shade = values.get("road_shade")
        road_rgb = ROAD if shade is None else tuple(int(round(min(255.0, shade * k))) for k in (1.0, 1.0, 1.08))
        return Look(floor=floor, floor_rgb=floor_rgb, road_rgb=road_rgb, road_texture=values.get("road_texture", 0.0),
                    border_rgb=COLOURS[values["border_colours"]] if "border_colours" in values else BORDER,
                    centre=values.get("centre_lines", "dashed"),
                    centre_rgb=COLOURS[values["centre_colours"]] if "centre_colours" in values else CENTRE,
                    seed=int(np.random.default_rng([seed, LOOK_SEED]).integers(2 ** 31)))

    def _light(self, values: dict) -> Light:
        base = self.base_light
        if not any(k in values for k in ("light_azimuth", "light_elevation", "ambient", "diffuse")):
            return base
        x, y, z = base.unit
        azimuth = math.radians(values.get("light_azimuth", math.degrees(math.atan2(y, x))))
        elevation = math.radians(values.get("light_elevation", math.degrees(math.atan2(z, math.hypot(x, y)))))
        direction = (math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth),
                     math.sin(elevation))
        return Light(direction, values.get("ambient", base.ambient), values.get("diffuse", base.diffuse))

    def _park_all(self) -> None:
        x, y = self.track.point_at(0.0)
        for index in self.distractors:
            self.world.move_scenery(index, float(x), float(y), 0.0, z=PARK_HEIGHT + index)

    def _place_distractors(self, count: int, g) -> None:
        """`count` of the boxes beside the road: outside the borders, clear of every part of the lap."""
        self._park_all()
        track, world = self.track, self.world
        for index in g.permutation(len(self.distractors))[:count]:
            box = world.scenery[index]
            radius = math.hypot(box.half[0], box.half[1])
            for _ in range(20):  # a spot on the road's other leg is refused and drawn again
                s = g.uniform(0.0, track.length)
                side = 1.0 if g.integers(2) else -1.0
                heading = float(track.heading_at(s))
                reach = float(track.width_at(s)) / 2 + radius + DISTRACTOR_CLEARANCE + g.uniform(0.0, 0.8)
                x, y = track.point_at(s) + side * reach * np.array([-math.sin(heading), math.cos(heading)])
                near_s, offset = track.project(np.array([x, y]))
                if abs(offset) - float(track.width_at(near_s)) / 2 >= radius + DISTRACTOR_CLEARANCE:
                    rgb = tuple(int(c) for c in g.integers(20, 236, 3))
                    world.move_scenery(index, float(x), float(y), float(g.uniform(0, math.pi)), rgb, z=box.half[2])
                    break

    def _camera(self, values: dict, seed: int) -> None:
        keys = ("camera_height", "camera_pitch", "camera_roll", "camera_yaw", "camera_fov")
        if any(k in values for k in keys):
            h, pitch, roll, yaw, fov = (values.get(k, 0.0) for k in keys)
            self.world.camera_jitter = CameraJitter(h, pitch, roll, yaw, fov)
        if "stereo_skew" in values:  # the right camera: the left one's mount, off by its own little angles
            left = self.world.camera_jitter or CameraJitter()
            skew = values["stereo_skew"]
            d_pitch, d_roll, d_yaw = np.random.default_rng([seed, FIELD_INDEX["stereo_skew"], 1]).uniform(-skew, skew, 3)
            self.world.right_camera_jitter = dataclasses.replace(
                left, pitch_deg=left.pitch_deg + d_pitch, roll_deg=left.roll_deg + d_roll, yaw_deg=left.yaw_deg + d_yaw)

    def _dynamics(self, values: dict) -> None:
        self._queue = deque([(0.0, 0.0)] * values.get("latency", 0))  # the car at rest meanwhile
        self._trim, self._gain = values.get("steering_trim", 0.0), values.get("speed_gain", 1.0)
        car = self.world.car
        if "steering_rate" in values:
            car.spec = dataclasses.replace(self.car_spec, steering_rate=values["steering_rate"])
        if "tyre_friction" in values:
            car.set_tyre_friction(values["tyre_friction"])

    def _picture(self, values: dict, seed: int) -> None:
        blur = values.get("blur", 0.0)
        self._blur = blur if blur >= MIN_BLUR else None
        self._noise = values.get("noise") or None
        self._noise_rng = np.random.default_rng([seed, NOISE_STREAM])
        self._bank = None
        self._jpeg = values.get("jpeg")
        keys = ("brightness", "contrast", "gamma", "colour_cast")
        self._lut = picture_lut(*(values.get(k) for k in keys)) if any(k in values for k in keys) else None

    # -- per step ------------------------------------------------------------------------------------
    def command(self, steering: float, speed: float) -> tuple[float, float]:
        """The command the car gets this step: trimmed, scaled, and `latency` steps late."""
        self._queue.append((steering + self._trim, speed * self._gain))
        return self._queue.popleft()

    def scan(self, ranges: np.ndarray) -> np.ndarray:
        """The LIDAR's raw ranges (m, inf = nothing) as this episode's scanner returns them: noisier, and with
        some rays returning nothing."""
        if self._lidar_noise:
            ranges = ranges + self._lidar_rng.normal(0.0, self._lidar_noise, ranges.shape) * np.isfinite(ranges)
        if self._lidar_dropout:
            ranges = np.where(self._lidar_rng.random(ranges.shape) < self._lidar_dropout, np.inf, ranges)
        return np.maximum(ranges, 0.0)

    def picture(self, frame: np.ndarray) -> np.ndarray:
        """The camera frame (uint8 (h, w, c)) as this episode's camera delivers it."""
        shape = frame.shape
        gray = shape[2] == 1
        img = frame[:, :, 0] if gray else frame
        if self._blur is not None:
            img = cv2.GaussianBlur(img, (0, 0), self._blur)
        if self._lut is not None:
            img = cv2.LUT(img, self._lut[1] if gray else self._lut[3])
        if self._noise is not None:
            img = cv2.add(img, self._noise_for(img.shape), dtype=cv2.CV_8U)  # saturates at 0 and 255
        if self._jpeg is not None:
            bgr = img if gray else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)  # JPEG's colour transform expects BGR
            _, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(self._jpeg)])
            img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
            img = img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return np.ascontiguousarray(img).reshape(shape)


    def _noise_for(self, shape) -> np.ndarray:
        """This step's pixel noise, int16: a window at a random offset into a bank of NOISE_BANK frames'
        worth, drawn once an episode (a fresh Gaussian field per step costs more than the rest of the
        picture's changes together)."""
        size = int(np.prod(shape))
        if self._bank is None or self._bank.size < NOISE_BANK * size:
            normal = self._noise_rng.standard_normal(NOISE_BANK * size, dtype=np.float32) * np.float32(self._noise)
            self._bank = np.rint(normal).astype(np.int16)
        start = int(self._noise_rng.integers(self._bank.size - size + 1))
        return self._bank[start:start + size].reshape(shape)


def picture_lut(brightness=None, contrast=None, gamma=None, cast=None) -> dict:
    """Lookup tables for cv2.LUT: {3: (1, 256, 3) per channel, 1: (256,) for gray frames}.
    value -> ((value * brightness - 0.5) * contrast + 0.5) ** gamma * cast, on 0-1, clipped."""
    v = np.arange(256, dtype=np.float64) / 255.0 * (brightness or 1.0)
    v = np.clip((v - 0.5) * (contrast or 1.0) + 0.5, 0.0, 1.0) ** (gamma or 1.0)
    gains = np.asarray(cast if cast is not None else (1.0, 1.0, 1.0), np.float64)
    rgb = np.clip(np.rint(v[:, None] * gains[None, :] * 255.0), 0, 255).astype(np.uint8)
    luma = float(np.dot(gains, (0.299, 0.587, 0.114)))
    gray = np.clip(np.rint(v * luma * 255.0), 0, 255).astype(np.uint8)
    return {3: rgb.reshape(1, 256, 3), 1: gray}
