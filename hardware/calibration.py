"""Per-car calibration: pulse widths (microseconds) and the fraction -> pulse mapping.

The file is TOML, read with tomllib and written by `save_calibration` (a few
lines: the stdlib has no TOML writer). Steering fraction +1 = full left,
throttle fraction +1 = full forward, -1 = full reverse. Polarity is written for
the reader's benefit and checked against the pulses: DeepRacer's ESC drives
forward with pulses *shorter* than neutral (polarity -1).

The same file may hold each camera's own calibration, `[camera.front]`, `[camera.left]`,
`[camera.right]` (mount error and exposure: hardware/camera_calibration.py). A file without them
loads as before; saving the pulses keeps the camera sections already in the file.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import asdict, dataclass

from racekit.hardware.camera_calibration import ROLES, CameraCalibration, format_cameras, parse_cameras, validate_camera
from racekit.hardware.errors import CalibrationError

# Plausible hobby-servo range; anything outside is a typo, not a car.
MIN_PULSE_US = 500.0
MAX_PULSE_US = 2500.0


@dataclass(frozen=True)
class Calibration:
    steering_center_us: float = 1450.0
    steering_left_us: float = 1700.0
    steering_right_us: float = 1200.0
    throttle_neutral_us: float = 1446.0
    throttle_forward_us: float = 1311.0  # DeepRacer: motor polarity -1, forward below neutral
    throttle_reverse_us: float = 1603.5

    @property
    def steering_polarity(self) -> int:
        """+1 when a left turn is a longer pulse than centre."""
        return 1 if self.steering_left_us > self.steering_center_us else -1

    @property
    def throttle_polarity(self) -> int:
        """+1 when forward is a longer pulse than neutral."""
        return 1 if self.throttle_forward_us > self.throttle_neutral_us else -1

    def validate(self, where: str = "calibration") -> "Calibration":
        """Raise CalibrationError naming `where` and the field if the pulses make no sense."""
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise CalibrationError(f"{where}: {_key(name)} must be a number of microseconds")
            if not MIN_PULSE_US <= value <= MAX_PULSE_US:
                raise CalibrationError(
                    f"{where}: {_key(name)} = {value} is outside {MIN_PULSE_US:g}..{MAX_PULSE_US:g} us")
        c, l, r = self.steering_center_us, self.steering_left_us, self.steering_right_us
        if not (min(l, r) < c < max(l, r)):
            raise CalibrationError(f"{where}: steering.center_us = {c} must lie strictly between left_us and right_us")
        n, f, b = self.throttle_neutral_us, self.throttle_forward_us, self.throttle_reverse_us
        if not (min(f, b) < n < max(f, b)):
            raise CalibrationError(
                f"{where}: throttle.neutral_us = {n} must lie strictly between forward_us and reverse_us")
        return self

    def steering_us(self, fraction: float) -> float:
        """Steering fraction in [-1, 1] (+1 = left) -> pulse, clamped to the calibrated range."""
        s = _unit(fraction)
        end = self.steering_left_us if s >= 0 else self.steering_right_us
        return self.steering_center_us + abs(s) * (end - self.steering_center_us)

    def throttle_us(self, fraction: float) -> float:
        """Throttle fraction in [-1, 1] (+1 = full forward) -> pulse, clamped to the calibrated range."""
        t = _unit(fraction)
        end = self.throttle_forward_us if t >= 0 else self.throttle_reverse_us
        return self.throttle_neutral_us + abs(t) * (end - self.throttle_neutral_us)

    def pulses(self, steering: float, throttle: float) -> tuple[float, float]:
        return self.steering_us(steering), self.throttle_us(throttle)

    def fractions(self, steering_us: float, throttle_us: float) -> tuple[float, float]:
        """The inverse mapping, pulses -> (steering, throttle) fractions in [-1, 1]: what a
        simulated car makes of the pulses its virtual controller receives."""
        def inverse(us: float, middle: float, plus_end: float, minus_end: float) -> float:
            if (us - middle) * (plus_end - middle) >= 0:
                return _unit((us - middle) / (plus_end - middle))
            return -_unit((us - middle) / (minus_end - middle))

        return (inverse(steering_us, self.steering_center_us, self.steering_left_us, self.steering_right_us),
                inverse(throttle_us, self.throttle_neutral_us, self.throttle_forward_us, self.throttle_reverse_us))

    def neutral(self) -> tuple[float, float]:
        """Centred steering and neutral throttle: the safe state."""
        return self.steering_center_us, self.throttle_neutral_us

    def clamp(self, steering_us: float, throttle_us: float) -> tuple[float, float]:
        """Clamp raw pulses into the calibrated ranges (the calibrate program's nudges)."""
        s_lo, s_hi = sorted((self.steering_left_us, self.steering_right_us))
        t_lo, t_hi = sorted((self.throttle_forward_us, self.throttle_reverse_us))
        return min(max(steering_us, s_lo), s_hi), min(max(throttle_us, t_lo), t_hi)


def _unit(x: float) -> float:
    """Clamp to [-1, 1]; NaN becomes 0 (neutral) so a bad number can never reach a motor."""
    if not math.isfinite(x):
        return 0.0 if math.isnan(x) else math.copysign(1.0, x)
    return min(max(x, -1.0), 1.0)


# File layout: TOML section.key for each dataclass field.
_LAYOUT = {
    "steering_center_us": ("steering", "center_us"),
    "steering_left_us": ("steering", "left_us"),
    "steering_right_us": ("steering", "right_us"),
    "throttle_neutral_us": ("throttle", "neutral_us"),
    "throttle_forward_us": ("throttle", "forward_us"),
    "throttle_reverse_us": ("throttle", "reverse_us"),
}


def _key(field_name: str) -> str:
    section, key = _LAYOUT[field_name]
    return f"{section}.{key}"


def _read(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CalibrationError(f"{path}: calibration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read ({exc.strerror})") from None


def load_calibration(path: str | os.PathLike) -> Calibration:
    """Read a calibration TOML file's pulses; CalibrationError names the file and the field (its camera
    sections are checked too, so a bad one is refused wherever the file is read)."""
    path = os.fspath(path)
    raw = _read(path)
    parse_cameras(raw, path)
    values = {}
    for name, (section, key) in _LAYOUT.items():
        table = raw.get(section)
        if not isinstance(table, dict) or key not in table:
            raise CalibrationError(f"{path}: missing field {section}.{key}")
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CalibrationError(f"{path}: {section}.{key} must be a number of microseconds, got {value!r}")
        values[name] = float(value)
    cal = Calibration(**values).validate(path)
    for section, derived in (("steering", cal.steering_polarity), ("throttle", cal.throttle_polarity)):
        written = raw[section].get("polarity")
        if written is not None and written != derived:
            raise CalibrationError(
                f"{path}: {section}.polarity = {written!r} disagrees with the pulses (they give {derived})")
    return cal


def load_camera_calibration(path: str | os.PathLike) -> dict[str, CameraCalibration]:
    """The file's camera sections by role ("front", "left", "right"); {} for a file without them."""
    path = os.fspath(path)
    return parse_cameras(_read(path), path)


def format_calibration(cal: Calibration, cameras: dict[str, CameraCalibration] | None = None) -> str:
    """The TOML text of a calibration (and camera sections), with comments for the person who edits it."""
    def num(v: float) -> str:
        return repr(float(v)) if v != int(v) else str(int(v))

    return "\n".join([
        "# racekit car calibration: servo and ESC pulse widths in microseconds.",
        "# Written by `racekit car calibrate`; edit by hand if you like.",
        "",
        "[steering]",
        f"center_us = {num(cal.steering_center_us)}",
        f"left_us = {num(cal.steering_left_us)}    # wheels fully left",
        f"right_us = {num(cal.steering_right_us)}    # wheels fully right",
        f"polarity = {cal.steering_polarity}    # +1: left is a longer pulse than centre",
        "",
        "[throttle]",
        f"neutral_us = {num(cal.throttle_neutral_us)}    # wheels still",
        f"forward_us = {num(cal.throttle_forward_us)}    # fastest forward the car may go",
        f"reverse_us = {num(cal.throttle_reverse_us)}    # fastest reverse (never used when driving itself)",
        f"polarity = {cal.throttle_polarity}    # +1: forward is a longer pulse than neutral",
        "",
    ]) + ("\n" + format_cameras(cameras) if cameras else "")


def save_calibration(cal: Calibration, path: str | os.PathLike,
                     cameras: dict[str, CameraCalibration] | None = None) -> None:
    """Write the calibration file atomically (a half-written file must never be read by the car).

    cameras None keeps the camera sections the file has (the console saves pulses only); a dict replaces them.
    """
    path = os.fspath(path)
    cal.validate(path)
    if cameras is None:
        cameras = load_camera_calibration(path) if os.path.exists(path) else {}
    for role, camera in cameras.items():
        if role not in ROLES:
            raise CalibrationError(f"{path}: [camera.{role}] is not a camera of the car (one of {', '.join(ROLES)})")
        validate_camera(camera, f"{path}: [camera.{role}]")
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(format_calibration(cal, cameras))
    os.replace(tmp, path)

