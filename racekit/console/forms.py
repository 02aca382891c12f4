"""The create-model form: each field checked, a bad one named, then the `racekit train` options it makes."""
from __future__ import annotations

import math
from pathlib import Path

from racekit.console.runs import check_name, run_dir
from racekit.sim import MAX_OBJECTS, RACE_TYPES

ALGORITHMS = ("ppo", "sac")
MAX_REWARD_BYTES = 64 * 1024
MAX_MINUTES = 24 * 60


class FieldError(ValueError):
    """A form field with a bad value: .field names it, str() says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _number(form: dict, field: str, low: float, high: float, default=None) -> float:
    value = form.get(field, default)
    if value in (None, "") and default is not None:
        value = default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"{field}: a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise FieldError(field, f"{field}: from {low:g} to {high:g}, got {value}")
    return number


def training_options(form: dict, root: Path, tracks: list[str], clone: list[str] | None = None
                     ) -> tuple[str, str, list[str]]:
    """(run name, reward code, `racekit train` options but --out and --reward) from the page's form. clone: the
    --from options of the model it starts from (model_files.clone_options), which fix its network, camera,
    sensors and action space: the form's own are not read then."""
    if not isinstance(form, dict):
        raise FieldError("form", "send the form as a JSON object")
    try:
        name = check_name(form.get("name"))
        run_dir(root, name)
    except ValueError as exc:
        raise FieldError("name", str(exc)) from None
    if (root / name).exists():
        raise FieldError("name", f"name: a run called {name} exists already; choose another name")
    track = form.get("track")
    if track not in tracks:
        raise FieldError("track", f"track: one of {', '.join(tracks)}, got {track!r}")
    argv = ["--track", track, *race_type_options(form)]
    if clone is not None:
        argv += clone
    else:
        algorithm = form.get("algorithm") or "ppo"
        if algorithm not in ALGORITHMS:
            raise FieldError("algorithm", f"algorithm: ppo or sac, got {algorithm!r}")
        steering = (_number(form, "steering_low", -30, 30), _number(form, "steering_high", -30, 30))
        if not steering[0] < steering[1]:
            raise FieldError("steering_high", f"steering: the left limit must be above the right, got "
                                              f"{steering[0]:g} to {steering[1]:g} degrees")
        speed = (_number(form, "speed_low", 0.1, 4.0), _number(form, "speed_high", 0.1, 4.0))
        if not speed[0] < speed[1]:
            raise FieldError("speed_high", f"speed: the top speed must be above the lowest, got {speed[0]:g} to "
                                           f"{speed[1]:g} m/s")
        argv += ["--algorithm", algorithm, "--steering-range", f"{steering[0]:g}", f"{steering[1]:g}",
                 "--speed-range", f"{speed[0]:g}", f"{speed[1]:g}"]
    minutes = _number(form, "minutes", 0.1, MAX_MINUTES)
    argv += ["--minutes", f"{minutes:g}"]
    reward = form.get("reward")
    if not isinstance(reward, str) or not reward.strip():
        raise FieldError("reward", "reward function: write one (start from an example)")
    if len(reward.encode("utf-8")) > MAX_REWARD_BYTES:
        raise FieldError("reward", f"reward function: at most {MAX_REWARD_BYTES // 1024} KB")
    return name, reward, argv


def resume_minutes(form: dict) -> float:
    return _number(form if isinstance(form, dict) else {}, "minutes", 0.1, MAX_MINUTES)


def _whole(form: dict, field: str, low: int, high: int, default=None) -> int:
    number = _number(form, field, low, high, default)
    if number != int(number):
        raise FieldError(field, f"{field}: a whole number from {low} to {high}, got {form.get(field)}")
    return int(number)


def race_type_options(form: dict) -> list[str]:
    """--race-type and its settings (boxes; bots, their speed, lane changes), as racekit train and race take them."""
    race_type = form.get("race_type") or "time-trial"
    if race_type not in RACE_TYPES:
        raise FieldError("race_type", f"race type: one of {', '.join(RACE_TYPES)}, got {race_type!r}")
    argv = ["--race-type", race_type]
    if race_type == "object-avoidance":
        argv += ["--objects", str(_whole(form, "objects", 1, MAX_OBJECTS, default=6))]
    if race_type == "head-to-bot":
        argv += ["--bots", str(_whole(form, "bots", 1, MAX_OBJECTS, default=3)),
                 "--bot-speed", f"{_number(form, 'bot_speed', 0.05, 4.0, default=0.2):g}"]
        if form.get("lane_changes") in (True, "true", "on", "1"):
            argv.append("--lane-changes")
    return argv


def race_options(form: dict, tracks: list[str]) -> list[str]:
    """`racekit race` options from the page's race form: track ("" for the model's own), direction, laps,
    the race type and its settings."""
    if not isinstance(form, dict):
        raise FieldError("form", "send the form as a JSON object")
    argv = []
    track = form.get("track") or ""
    if track:
        if track not in tracks:
            raise FieldError("track", f"track: one of {', '.join(tracks)} (or the model's own), got {track!r}")
        argv += ["--track", track]
    direction = form.get("direction") or "forward"
    if direction not in ("forward", "reverse"):
        raise FieldError("direction", f"direction: forward or reverse, got {direction!r}")
    if direction == "reverse":
        argv.append("--reverse")
    argv += ["--laps", str(_whole(form, "laps", 1, 10, default=3))]
    return argv + race_type_options(form)
