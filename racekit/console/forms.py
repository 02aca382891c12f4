"""The console's forms: each field checked, a bad one named, then the `racekit` options it makes.

    training_options   the create form -> `racekit train` options
    race_options       a model's race form -> `racekit race` options
A FieldError names the form field (its id on the page) and says what is wrong with it, in one line.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from racekit.console import pictures
from racekit.console.runs import check_name, run_dir
from racekit.sim import DEEPRACER_ACTIONS, MAX_OBJECTS, RACE_TYPES

ALGORITHMS = ("ppo", "sac")
CAMERAS = ("front-camera", "stereo-cameras")
LIDARS = ("lidar", "sector-lidar", "discretized-sector-lidar")
RANDOMIZE = ("none", "default", "strong")  # sim/randomization.py's presets
MAX_REWARD_BYTES = 64 * 1024
MAX_MINUTES = 24 * 60
MAX_ACTIONS = 30
ACTIONS_FILE = "actions.json"  # a run's own discrete list, as the console gave it to racekit train --actions


class FieldError(ValueError):
    """A form field with a bad value: .field names it, str() says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _number(form: dict, field: str, low: float, high: float, default=None, label: str | None = None) -> float:
    value = form.get(field, default)
    if value in (None, "") and default is not None:
        value = default
    label = label or field
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"{label}: a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise FieldError(field, f"{label}: from {low:g} to {high:g}, got {value}")
    return number


def _whole(form: dict, field: str, low: int, high: int, default=None, label: str | None = None) -> int:
    number = _number(form, field, low, high, default, label)
    if number != int(number):
        raise FieldError(field, f"{label or field}: a whole number from {low} to {high}, got {form.get(field)}")
    return int(number)


def _choice(form: dict, field: str, choices, default: str) -> str:
    value = form.get(field) or default
    if value not in choices:
        raise FieldError(field, f"{field.replace('_', ' ')}: one of {', '.join(choices)}, got {value!r}")
    return value


def _yes(form: dict, field: str) -> bool:
    return form.get(field) in (True, "true", "on", "1")


def track_option(form: dict, field: str = "track") -> str:
    try:
        return pictures.resolve(form.get(field))
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


def race_type_options(form: dict) -> list[str]:
    """--race-type and its settings (boxes; bots, their speed, lane changes), as racekit train and race take them."""
    race_type = _choice(form, "race_type", RACE_TYPES, "time-trial")
    argv = ["--race-type", race_type]
    if race_type == "object-avoidance":
        if _choice(form, "placement", ("random", "fixed"), "random") == "fixed":
            argv += ["--object-positions", object_positions_text(form)]
        else:
            argv += ["--objects", str(_whole(form, "objects", 1, MAX_OBJECTS, default=6))]
    if race_type == "head-to-bot":
        argv += ["--bots", str(_whole(form, "bots", 1, MAX_OBJECTS, default=3)),
                 "--bot-speed", f"{_number(form, 'bot_speed', 0.05, 4.0, default=0.2, label='bot speed'):g}"]
        if _yes(form, "lane_changes"):
            argv.append("--lane-changes")
    return argv


def object_positions_text(form: dict) -> str:
    """The form's fixed boxes, rows of {"fraction": 0-1 of the lap, "lane": "left" or "right"}, as
    --object-positions takes them (0.25:left,0.5:right), each checked at the "object_positions" field."""
    rows = form.get("object_positions")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_OBJECTS:
        raise FieldError("object_positions", f"box positions: from 1 to {MAX_OBJECTS} rows of a fraction of the "
                                             f"lap and a lane")
    text = []
    for i, row in enumerate(rows, start=1):
        row = row if isinstance(row, dict) else {}
        try:
            at = _number(row, "fraction", 0.0, 1.0, label=f"box {i} place (fraction of the lap)")
            lane = _choice(row, "lane", ("left", "right"), "")
        except FieldError as exc:
            raise FieldError("object_positions", str(exc).replace("lane:", f"box {i} lane:")) from None
        text.append(f"{at:.10g}:{lane}")
    return ",".join(text)


def sensor_options(form: dict, algorithm: str) -> list[str]:
    """One camera and at most one LIDAR (DeepRacer's names), with a discretised LIDAR's settings."""
    camera = _choice(form, "camera", CAMERAS, "front-camera")
    lidar = form.get("lidar") or ""
    if lidar and lidar not in LIDARS:
        raise FieldError("lidar", f"lidar: none or one of {', '.join(LIDARS)}, got {lidar!r}")
    if algorithm == "sac" and (camera != "front-camera" or lidar):
        raise FieldError("camera" if camera != "front-camera" else "lidar",
                         "sensors: SAC trains with the front camera alone; pick PPO for stereo cameras or a LIDAR")
    argv = ["--sensor", camera] + (["--sensor", lidar] if lidar else [])
    if lidar == "discretized-sector-lidar":
        sectors = _whole(form, "lidar_sectors", 1, 64, default=8)
        if 64 % sectors:
            raise FieldError("lidar_sectors", f"lidar sectors: one of 1, 2, 4, 8, 16, 32, 64 (they divide the 64 "
                                              f"rays), got {sectors}")
        argv += ["--lidar-sectors", str(sectors), "--lidar-values", str(_whole(form, "lidar_values", 1, 64, default=8)),
                 "--lidar-clip", f"{_number(form, 'lidar_clip', 0.1, 12.0, default=2.0, label='lidar clip'):g}"]
    return argv


# (field, option, low, high, whole, algorithms): racekit train's main settings; left empty, its default (measured)
ALGORITHM_SETTINGS = (("learning_rate", "--learning-rate", 1e-6, 0.1, False, ALGORITHMS),
                      ("discount", "--discount", 0.5, 1.0, False, ALGORITHMS),
                      ("entropy", "--entropy", 0.0, 1.0, False, ("ppo",)),
                      ("epochs", "--epochs", 1, 20, True, ("ppo",)),
                      ("minibatch", "--minibatch", 16, 4096, True, ALGORITHMS),
                      ("replay_ratio", "--replay-ratio", 0.01, 4.0, False, ("sac",)))


def algorithm_defaults() -> dict:
    """racekit train's defaults of those settings, by algorithm (the page shows them in the empty fields)."""
    from racekit.agent.train import RunConfig

    cfg = RunConfig()
    return {"ppo": {"learning_rate": cfg.ppo.learning_rate, "discount": cfg.ppo.gamma, "entropy": cfg.ppo.entropy,
                    "epochs": cfg.ppo.epochs, "minibatch": cfg.ppo.minibatch},
            "sac": {"learning_rate": cfg.sac.learning_rate, "discount": cfg.sac.gamma, "minibatch": cfg.sac.batch_size,
                    "replay_ratio": cfg.sac.replay_ratio}}


def algorithm_options(form: dict, algorithm: str) -> list[str]:
    """The algorithm's main settings the form gives; an empty one keeps racekit train's default."""
    argv = []
    for field, option, low, high, whole, algorithms in ALGORITHM_SETTINGS:
        if form.get(field) in (None, ""):
            continue
        if algorithm not in algorithms:
            raise FieldError(field, f"{field.replace('_', ' ')}: a setting of {' and '.join(algorithms).upper()}, "
                                    f"not {algorithm.upper()}; leave it empty")
        value = _whole(form, field, low, high) if whole else _number(form, field, low, high,
                                                                      label=field.replace("_", " "))
        argv += [option, f"{value:g}"]
    return argv


def action_options(form: dict, algorithm: str, actions_file: Path) -> list[str]:
    """The action space: continuous ranges, or a discrete list of (steering, speed) rows (DeepRacer's default
    list as --discrete, another as --actions `actions_file`)."""
    kind = _choice(form, "action_type", ("continuous", "discrete"), "continuous")
    if kind == "continuous":
        steering = (_number(form, "steering_low", -30, 30), _number(form, "steering_high", -30, 30))
        if not steering[0] < steering[1]:
            raise FieldError("steering_high", f"steering: the left limit must be above the right, got "
                                              f"{steering[0]:g} to {steering[1]:g} degrees")
        speed = (_number(form, "speed_low", 0.1, 4.0), _number(form, "speed_high", 0.1, 4.0))
        if not speed[0] < speed[1]:
            raise FieldError("speed_high", f"speed: the top speed must be above the lowest, got {speed[0]:g} to "
                                           f"{speed[1]:g} m/s")
        return ["--steering-range", f"{steering[0]:g}", f"{steering[1]:g}", "--speed-range", f"{speed[0]:g}", f"{speed[1]:g}"]
    if algorithm == "sac":
        raise FieldError("action_type", "action space: SAC takes continuous actions only; pick PPO for a discrete list")
    table = action_table(form)
    if table == [tuple(a) for a in DEEPRACER_ACTIONS]:
        return ["--discrete"]
    return ["--actions", str(actions_file)]  # the create route writes the list there (action_list_json)


def action_table(form: dict) -> list[tuple[float, float]]:
    """The discrete list of the form's rows, each checked at the "actions" field."""
    rows = form.get("actions")
    if not isinstance(rows, list) or not 2 <= len(rows) <= MAX_ACTIONS:
        raise FieldError("actions", f"actions: from 2 to {MAX_ACTIONS} rows of steering and speed")
    table = []
    for i, row in enumerate(rows, start=1):
        row = row if isinstance(row, dict) else {}
        try:
            table.append((_number(row, "steering", -30, 30, label=f"action {i} steering (degrees)"),
                          _number(row, "speed", 0.1, 4.0, label=f"action {i} speed (m/s)")))
        except FieldError as exc:
            raise FieldError("actions", str(exc)) from None
    if len(set(table)) < len(table):
        raise FieldError("actions", "actions: two rows are the same; each action once")
    return table


def action_list_json(form: dict) -> str:
    """The form's discrete list as `racekit train --actions` reads it (DeepRacer's action_space)."""
    return json.dumps([{"steering_angle": s, "speed": v, "index": i} for i, (s, v) in enumerate(action_table(form))])


def training_options(form: dict, root: Path, clone: list[str] | None = None) -> tuple[str, str, list[str]]:
    """(run name, reward code, `racekit train` options but --out and --reward) from the create form. clone: the
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
    argv = ["--track", track_option(form)]
    if _choice(form, "direction", ("forward", "both"), "forward") == "both":
        argv.append("--alternate-direction")
    argv += race_type_options(form)
    if clone is not None:
        argv += clone
    else:
        algorithm = _choice(form, "algorithm", ALGORITHMS, "ppo")
        argv += ["--algorithm", algorithm, *algorithm_options(form, algorithm), *sensor_options(form, algorithm),
                 *action_options(form, algorithm, root / name / ACTIONS_FILE)]
    randomize = _choice(form, "randomize", RANDOMIZE, "none")
    if randomize != "none":
        argv += ["--randomize", randomize]
    minutes = _number(form, "minutes", 0.1, MAX_MINUTES, label="training time (minutes)")
    argv += ["--minutes", f"{minutes:g}"]
    reward = form.get("reward")
    if not isinstance(reward, str) or not reward.strip():
        raise FieldError("reward", "reward function: write one (start from an example)")
    if len(reward.encode("utf-8")) > MAX_REWARD_BYTES:
        raise FieldError("reward", f"reward function: at most {MAX_REWARD_BYTES // 1024} KB")
    return name, reward, argv


def resume_minutes(form: dict) -> float:
    return _number(form if isinstance(form, dict) else {}, "minutes", 0.1, MAX_MINUTES)


def race_options(form: dict) -> list[str]:
    """`racekit race` options from a model's race form: track ("" for the model's own; "generated" with
    generated_seed, or any name pictures.resolve takes), direction, laps, the race type and its settings."""
    if not isinstance(form, dict):
        raise FieldError("form", "send the form as a JSON object")
    track = form.get("track")
    if track == "generated":  # the race form's generated track: its seed in a field of its own
        track = f"generated:{_whole(form, 'generated_seed', 0, 999_999, default=7, label='generated track seed')}"
    argv = ["--track", track_option({"track": track})] if track else []
    if _choice(form, "direction", ("forward", "reverse"), "forward") == "reverse":
        argv.append("--reverse")
    argv += ["--laps", str(_whole(form, "laps", 1, 10, default=3))]
    return argv + race_type_options(form)
