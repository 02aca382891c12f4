"""Domain randomisation settings: what the simulator varies per episode (or per step, for noise), and by how much.

A policy trained under one look, one camera mount and one car meets other ones on a real track (DESIGN.md
section 10). `Randomization` holds one field per thing drawn: a range `(low, high)` drawn uniformly (whole
numbers for counts, steps and JPEG quality), or a tuple of choices drawn with equal odds; `None` switches that
field off (the simulator's own value is used, untouched). `Randomization()` varies nothing.
sim/randomizer.py draws the values from the env's `np_random` and applies them.

Named presets: `Randomization.preset("none" | "default" | "strong")`. The file form is readable text, one
`field: value` a line, `#` comments; `preset: NAME` starts from a preset (it must come first), and every
other line sets or (with `off`) switches off one field:

    preset: default
    brightness: 0.6 1.4        # a range: low high
    floors: carpet, concrete   # choices
    latency: 0 2
    jpeg: off

`Randomization.load(path)` reads it; a bad file raises `RandomizationError` naming the file, the line, the field
and the bad value. `to_text()` writes the same form back.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

FLOORS = ("grass", "carpet", "concrete", "wood", "tiles")  # what lies around the track (sim/looks.py)
CENTRE_STYLES = ("dashed", "solid", "none")
COLOURS = {  # named colours (RGB) for the tape of the borders and the centre line
    "white": (240, 240, 240), "yellow": (235, 200, 40), "orange": (240, 130, 30), "red": (210, 40, 40),
    "blue": (40, 90, 210), "green": (40, 170, 70), "cream": (230, 220, 180),
}

# field -> (kind, physical bounds of a range, or the allowed choices). kinds: "float", "int" ranges; "choice"
RANGES = {
    # -- the picture, applied to every camera frame after rendering (all renderers alike) --
    "brightness": ("float", (0.05, 4.0)),  # gain on pixel values (1 = unchanged)
    "contrast": ("float", (0.05, 4.0)),  # gain about mid-gray (1 = unchanged)
    "gamma": ("float", (0.1, 5.0)),  # exponent on values in 0-1 (> 1 darkens the mid tones)
    "colour_cast": ("float", (0.3, 2.0)),  # gain of each of R, G, B, drawn on its own (gray frames: its luma)
    "noise": ("float", (0.0, 64.0)),  # sigma of Gaussian pixel noise, gray levels: sigma per episode, noise per step
    "blur": ("float", (0.0, 8.0)),  # sigma of a Gaussian blur, pixels (below 0.1: none)
    "jpeg": ("int", (1, 100)),  # JPEG quality the frame is compressed at (100: still lossy)
    # -- the look of the track and the floor (a new ground picture, see look_every) --
    "floors": ("choice", FLOORS),  # the floor around the track: grass or an indoor floor
    "road_shade": ("float", (0.0, 255.0)),  # gray level of the asphalt
    "road_texture": ("float", (0.0, 64.0)),  # strength of the asphalt's grain, gray levels
    "border_colours": ("choice", tuple(COLOURS)),  # tape along both borders
    "centre_lines": ("choice", CENTRE_STYLES),  # the centre line's style
    "centre_colours": ("choice", tuple(COLOURS)),  # ... and colour
    # -- the light (direction and shading, as every renderer shades: sim/render/scene.py) --
    "light_azimuth": ("float", (-360.0, 360.0)),  # degrees, compass direction of the light
    "light_elevation": ("float", (5.0, 90.0)),  # degrees above the horizon
    "ambient": ("float", (0.0, 1.5)),  # light everywhere
    "diffuse": ("float", (0.0, 1.5)),  # light on surfaces facing the light
    # -- scenery: boxes beside the track, outside the borders (seen, never hit, not in the reward params) --
    "distractors": ("int", (0, 20)),  # how many
    # -- the camera mount, per episode --
    "camera_height": ("float", (-0.1, 0.2)),  # m added to the camera's height
    "camera_pitch": ("float", (-30.0, 30.0)),  # degrees added to its downward pitch
    "camera_roll": ("float", (-30.0, 30.0)),  # degrees of roll (positive: clockwise as the camera sees)
    "camera_yaw": ("float", (-30.0, 30.0)),  # degrees of yaw (positive: to the left)
    "camera_fov": ("float", (-60.0, 45.0)),  # degrees added to the horizontal field of view (kept in 10-169)
    # -- the car's dynamics, per episode --
    "latency": ("int", (0, 5)),  # control steps a command waits before it reaches the car
    "steering_trim": ("float", (-10.0, 10.0)),  # degrees added to every steering command (positive: left)
    "steering_rate": ("float", (0.5, 100.0)),  # rad/s, the steering servo's slew rate (CarSpec: 10)
    "speed_gain": ("float", (0.2, 3.0)),  # commanded speed times this
    "tyre_friction": ("float", (0.05, 3.0)),  # the tyres' lateral friction (CarSpec: 0.9)
    # -- the other sensors, per episode (a camera-only car ignores them) --
    "stereo_skew": ("float", (0.0, 10.0)),  # degrees: a stereo pair's right camera's pitch, roll, yaw each differ
    # from the left camera's by up to this (its own mount)
    "lidar_noise": ("float", (0.0, 0.5)),  # m: sigma of Gaussian noise on every range, anew each scan
    "lidar_dropout": ("float", (0.0, 1.0)),  # the share of rays that return nothing, drawn anew each scan
}
LOOK_EVERY_MAX = 1_000_000


class RandomizationError(ValueError):
    """A bad randomisation setting: the message names where (file and line), the field and the value."""


@dataclass(frozen=True)
class Randomization:
    """What is randomised and by how much; each field `None` (off), a `(low, high)` range or a choice tuple.
    The fields' meanings, units and bounds are in RANGES above."""

    brightness: tuple | None = None
    contrast: tuple | None = None
    gamma: tuple | None = None
    colour_cast: tuple | None = None
    noise: tuple | None = None
    blur: tuple | None = None
    jpeg: tuple | None = None
    floors: tuple | None = None
    road_shade: tuple | None = None
    road_texture: tuple | None = None
    border_colours: tuple | None = None
    centre_lines: tuple | None = None
    centre_colours: tuple | None = None
    light_azimuth: tuple | None = None
    light_elevation: tuple | None = None
    ambient: tuple | None = None
    diffuse: tuple | None = None
    distractors: tuple | None = None
    camera_height: tuple | None = None
    camera_pitch: tuple | None = None
    camera_roll: tuple | None = None
    camera_yaw: tuple | None = None
    camera_fov: tuple | None = None
    latency: tuple | None = None
    steering_trim: tuple | None = None
    steering_rate: tuple | None = None
    speed_gain: tuple | None = None
    tyre_friction: tuple | None = None
    stereo_skew: tuple | None = None
    lidar_noise: tuple | None = None
    lidar_dropout: tuple | None = None
    # not drawn: a new ground picture every this many episodes, when a look field is on. One costs about 25 ms
    # with the fast renderer; with tiny or egl about 130 ms and ~9 MB that PyBullet never frees (sim/world.py)
    look_every: int = 1

    def __post_init__(self):
        for name in RANGES:
            object.__setattr__(self, name, check_field(name, getattr(self, name)))
        every = self.look_every
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= LOOK_EVERY_MAX:
            raise RandomizationError(f"look_every: must be a whole number of episodes >= 1, got {every!r}")

    @property
    def enabled(self) -> list[str]:
        """The fields that are on."""
        return [name for name in RANGES if getattr(self, name) is not None]

    @property
    def changes_look(self) -> bool:
        return any(getattr(self, n) is not None for n in LOOK_FIELDS)

    @staticmethod
    def preset(name: str) -> "Randomization":
        if name not in PRESETS:
            raise RandomizationError(f"unknown randomisation preset {name!r}: one of {', '.join(PRESETS)}")
        return PRESETS[name]

    @staticmethod
    def load(path) -> "Randomization":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise RandomizationError(f"{path}: cannot read the randomisation file: {e.strerror or e}") from None
        return Randomization.parse(text, str(path))

    @staticmethod
    def parse(text: str, where: str = "<text>") -> "Randomization":
        """The file form (see the module docstring) -> Randomization; `where` names it in errors."""
        values: dict = {}
        base = Randomization()
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = (part.strip() for part in line.partition(":"))
            at = f"{where}: line {number}"
            if not sep or not key:
                raise RandomizationError(f"{at}: expected 'field: value', got {raw.strip()!r}")
            try:
                if key == "preset":
                    if values:
                        raise RandomizationError("preset: must come before every field")
                    base = Randomization.preset(value)
                elif key == "look_every":
                    values[key] = _whole(key, value)
                    dataclasses.replace(base, look_every=values[key])  # checks it
                elif key in RANGES:
                    values[key] = check_field(key, _parse_value(key, value))
                else:
                    raise RandomizationError(f"unknown field {key!r} (fields: {', '.join([*RANGES, 'look_every'])})")
            except RandomizationError as e:
                raise RandomizationError(f"{at}: {e}") from None
        try:
            return dataclasses.replace(base, **values)
        except RandomizationError as e:
            raise RandomizationError(f"{where}: {e}") from None

    def to_text(self) -> str:
        """The file form of these settings: every field, `off` where off; `parse` reads it back equal."""
        lines = []
        for name in RANGES:
            value = getattr(self, name)
            if value is None:
                lines.append(f"{name}: off")
            elif RANGES[name][0] == "choice":
                lines.append(f"{name}: {', '.join(value)}")
            else:
                lines.append(f"{name}: {' '.join(repr(v) for v in value)}")  # repr: exact, so it reads back equal
        lines.append(f"look_every: {self.look_every}")
        return "\n".join(lines) + "\n"


LOOK_FIELDS = ("floors", "road_shade", "road_texture", "border_colours", "centre_lines", "centre_colours")


def check_field(name: str, value):
    """A field's value, normalised (a tuple of floats, ints or names), or RandomizationError naming it."""
    if value is None:
        return None
    kind, allowed = RANGES[name]
    if kind == "choice":
        choices = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (tuple, list)) else ()
        if not choices:
            raise RandomizationError(f"{name}: expected one or more of {', '.join(allowed)}, got {value!r}")
        bad = [c for c in choices if c not in allowed]
        if bad:
            raise RandomizationError(f"{name}: {bad[0]!r} is not one of {', '.join(allowed)}")
        return choices
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise RandomizationError(f"{name}: expected a range (low, high), got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) for v in value):
        raise RandomizationError(f"{name}: expected numbers, got {value!r}")
    if kind == "int" and any(float(v) != int(v) for v in value):
        raise RandomizationError(f"{name}: expected whole numbers, got {value!r}")
    low, high = (int(v) for v in value) if kind == "int" else (float(v) for v in value)
    if low > high:
        raise RandomizationError(f"{name}: low {low:g} is above high {high:g}")
    lo, hi = allowed
    if low < lo or high > hi:
        raise RandomizationError(f"{name}: {low:g} {high:g} is outside {lo:g} to {hi:g}")
    return low, high


def _parse_value(name: str, text: str):
    if text.lower() == "off":
        return None
    if RANGES[name][0] == "choice":
        return tuple(t for t in text.replace(",", " ").split())
    parts = text.replace(",", " ").split()
    try:
        numbers = [float(t) for t in parts]
    except ValueError:
        raise RandomizationError(f"{name}: expected 'low high' or 'off', got {text!r}") from None
    if len(numbers) == 1:  # one number: a fixed value
        numbers *= 2
    if len(numbers) != 2:
        raise RandomizationError(f"{name}: expected 'low high' or 'off', got {text!r}")
    return tuple(int(n) if RANGES[name][0] == "int" and n.is_integer() else n for n in numbers)


def _whole(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RandomizationError(f"{name}: expected a whole number, got {text!r}") from None


def as_randomization(value) -> Randomization | None:
    """What the env's `randomize` argument may be: None (off), a Randomization, a preset name or a file path."""
    if value is None or isinstance(value, Randomization):
        return value
    if isinstance(value, (str, Path)):
        if str(value) in PRESETS:
            return PRESETS[str(value)]
        if Path(value).is_file():
            return Randomization.load(value)
        raise RandomizationError(f"randomize: {str(value)!r} is neither a preset ({', '.join(PRESETS)}) nor a file")
    raise RandomizationError(f"randomize: expected None, a preset name, a file or a Randomization, got {value!r}")


PRESETS = {
    "none": Randomization(),
    # moderate: about what a home track, a phone-grade camera and a hobby car differ by
    "default": Randomization(
        brightness=(0.7, 1.3), contrast=(0.7, 1.3), gamma=(0.7, 1.4), colour_cast=(0.9, 1.1), noise=(0.0, 4.0),
        blur=(0.0, 1.0), jpeg=(40, 95), floors=FLOORS, road_shade=(30.0, 80.0), road_texture=(0.0, 10.0),
        border_colours=("white", "cream", "yellow"), centre_lines=CENTRE_STYLES,
        centre_colours=("yellow", "white", "orange"), light_azimuth=(0.0, 360.0), light_elevation=(35.0, 85.0),
        ambient=(0.5, 0.7), diffuse=(0.25, 0.45), distractors=(0, 6), camera_height=(-0.02, 0.02),
        camera_pitch=(-4.0, 4.0), camera_roll=(-3.0, 3.0), camera_yaw=(-3.0, 3.0), camera_fov=(-8.0, 8.0),
        latency=(0, 1), steering_trim=(-2.0, 2.0), steering_rate=(7.0, 13.0), speed_gain=(0.85, 1.15),
        tyre_friction=(0.7, 1.0), stereo_skew=(0.0, 1.0), lidar_noise=(0.0, 0.02), lidar_dropout=(0.0, 0.05)),
    # wide: beyond what training with `default` sees, for harder training or held-out tests
    "strong": Randomization(
        brightness=(0.5, 1.5), contrast=(0.5, 1.5), gamma=(0.5, 2.0), colour_cast=(0.8, 1.2), noise=(0.0, 8.0),
        blur=(0.0, 1.5), jpeg=(20, 95), floors=FLOORS, road_shade=(20.0, 110.0), road_texture=(0.0, 18.0),
        border_colours=tuple(COLOURS), centre_lines=CENTRE_STYLES, centre_colours=tuple(COLOURS),
        light_azimuth=(0.0, 360.0), light_elevation=(20.0, 90.0), ambient=(0.35, 0.8), diffuse=(0.15, 0.6),
        distractors=(0, 10), camera_height=(-0.04, 0.04), camera_pitch=(-8.0, 8.0), camera_roll=(-6.0, 6.0),
        camera_yaw=(-6.0, 6.0), camera_fov=(-15.0, 15.0), latency=(0, 2), steering_trim=(-4.0, 4.0),
        steering_rate=(4.0, 16.0), speed_gain=(0.7, 1.3), tyre_friction=(0.5, 1.1), stereo_skew=(0.0, 2.0),
        lidar_noise=(0.0, 0.05), lidar_dropout=(0.0, 0.15)),
}
