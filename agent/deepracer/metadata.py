"""DeepRacer's model_metadata.json: read it (with a clear error naming the file and key) and write it.

The schema (deepracer-simapp `bundle/markov/boto/s3/files/model_metadata.py`; ../shared/deepracer-models/README.md):
- action_space: discrete, a list of {"steering_angle": degrees, "speed": m/s} in the network's output order;
  continuous, {"steering_angle": {"low", "high"}, "speed": {"low", "high"}};
- action_space_type: "discrete" (default) or "continuous";
- training_algorithm: "clipped_ppo" (default) or "sac" (continuous only);
- sensor: exactly one camera and at most one LIDAR; missing, or version below 2, means ["observation"];
- neural_network: one of the three presets (default the shallow one);
- version; lidar_config (optional; the discretised sector LIDAR's num_sectors, which must divide the 64 rays,
  num_values_per_sector and clipping_dist; DeepRacer's defaults 8, 8, 2.0 where it is missing). The console's
  extra keys (preprocess_type, regional_parameters) are ignored.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from racekit.agent.deepracer.errors import DeepRacerError
from racekit.agent.networks import DEEPRACER_NAMES
from racekit.agent.policy import ActionSpec
from racekit.sim.sensors import DEEPRACER_NAMES as SENSOR_NAMES
from racekit.sim.sensors import LidarConfig, SensorError

CAMERAS = ("FRONT_FACING_CAMERA", "LEFT_CAMERA", "STEREO_CAMERAS", "observation")
LIDARS = ("LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
# DeepRacer's sensor names -> racekit's (sim/sensors.py); LEFT_CAMERA and the old "observation" are the front camera
RACEKIT_NAMES = {v: k for k, v in SENSOR_NAMES.items()} | {"LEFT_CAMERA": "front-camera", "observation": "front-camera"}
ALGORITHMS = ("clipped_ppo", "sac")
NETWORKS = {deepracer: racekit for racekit, deepracer in DEEPRACER_NAMES.items()}


@dataclass(frozen=True)
class DeepRacerMetadata:
    actions: ActionSpec
    algorithm: str  # "clipped_ppo" or "sac"
    sensors: tuple[str, ...]
    network: str  # racekit's name of the preset, e.g. "deepracer-shallow"
    version: str
    raw: dict  # the file as read, kept in the racekit model's provenance
    lidar_config: dict | None = None  # the discretised sector LIDAR's, checked (sim.sensors.LidarConfig's fields)

    @property
    def camera(self) -> str:
        return next(s for s in self.sensors if s in CAMERAS)

    @property
    def lidar(self) -> str | None:
        return next((s for s in self.sensors if s in LIDARS), None)

    @property
    def racekit_sensors(self) -> list[str]:
        """The sensors by racekit's names, the camera first (sim/sensors.py)."""
        return [RACEKIT_NAMES[self.camera]] + ([RACEKIT_NAMES[self.lidar]] if self.lidar else [])


def parse_metadata(text: str | bytes, where: str) -> DeepRacerMetadata:
    """model_metadata.json's text -> DeepRacerMetadata; DeepRacerError naming `where` and the key otherwise."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeepRacerError(f"{where}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise DeepRacerError(f"{where}: must hold a JSON object, not {type(raw).__name__}")

    def bad(key: str, why: str) -> DeepRacerError:
        return DeepRacerError(f"{where}: {key} {why}")

    kind = raw.get("action_space_type", "discrete")
    if kind not in ("discrete", "continuous"):
        raise bad("action_space_type", f"must be 'discrete' or 'continuous', not {kind!r}")
    algorithm = raw.get("training_algorithm", "clipped_ppo")
    if algorithm not in ALGORITHMS:
        raise bad("training_algorithm", f"must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    if algorithm == "sac" and kind != "continuous":
        raise bad("training_algorithm", "sac needs action_space_type 'continuous'")
    network = raw.get("neural_network", "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW")
    if network not in NETWORKS:
        raise bad("neural_network", f"must be one of {', '.join(NETWORKS)}, not {network!r}")
    version = str(raw.get("version", "1"))
    try:
        old = float(version) < 2
    except ValueError:
        raise bad("version", f"must be a number, not {version!r}") from None
    sensors = raw.get("sensor") if not old else None
    if sensors is None:
        sensors = ["observation"]
    if not isinstance(sensors, list) or not all(isinstance(s, str) for s in sensors):
        raise bad("sensor", "must be a list of sensor names")
    unknown = [s for s in sensors if s not in CAMERAS + LIDARS]
    if unknown:
        raise bad("sensor", f"has unknown sensor {unknown[0]!r} (known: {', '.join(CAMERAS + LIDARS)})")
    if sum(s in CAMERAS for s in sensors) != 1 or sum(s in LIDARS for s in sensors) > 1:
        raise bad("sensor", f"must list exactly one camera and at most one LIDAR, not {sensors}")
    lidar_config = None
    if "DISCRETIZED_SECTOR_LIDAR" in sensors or raw.get("lidar_config") is not None:
        if raw.get("lidar_config") is not None and not isinstance(raw["lidar_config"], dict):
            raise bad("lidar_config", "must be an object with num_sectors, num_values_per_sector and clipping_dist")
        try:
            config = LidarConfig.from_dict(raw.get("lidar_config")).to_dict()
        except SensorError as exc:  # its message names the field: "lidar_config num_sectors must divide ..."
            raise DeepRacerError(f"{where}: {exc}") from None
        lidar_config = config if "DISCRETIZED_SECTOR_LIDAR" in sensors else None
    actions = _action_space(raw.get("action_space"), kind, bad)
    return DeepRacerMetadata(actions, algorithm, tuple(sensors), NETWORKS[network], version, raw, lidar_config)


def parse_action_list(text: str | bytes, where: str) -> list[tuple[float, float]]:
    """A discrete action list as DeepRacer writes it: model_metadata.json's `action_space` list of
    {"steering_angle", "speed"} (the whole model_metadata.json, or the list alone) -> [(degrees, m/s)];
    DeepRacerError naming `where` and the entry otherwise (DeepRacer's car limits: +/-30 degrees, 0.1-4 m/s)."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeepRacerError(f"{where}: not JSON ({exc})") from None
    space = raw.get("action_space") if isinstance(raw, dict) else raw

    def bad(key: str, why: str) -> DeepRacerError:
        return DeepRacerError(f"{where}: {key} {why}")

    table = _action_space(space, "discrete", bad).table
    for i, (steering, speed) in enumerate(table):
        if abs(steering) > 30:
            raise bad(f"action_space[{i}].steering_angle", f"must be within the car's +/-30 degrees, got {steering:g}")
        if not 0.1 <= speed <= 4.0:
            raise bad(f"action_space[{i}].speed", f"must be from 0.1 to 4 m/s, got {speed:g}")
    if len(table) < 2 or len(set(table)) < len(table):
        raise bad("action_space", "needs at least 2 actions, each once")
    return list(table)


def _number(value, key: str, bad) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(key, f"must be a finite number, not {value!r}")
    return float(value)


def _action_space(space, kind: str, bad) -> ActionSpec:
    if kind == "discrete":
        if not isinstance(space, list) or not space:
            raise bad("action_space", "must be a non-empty list of {steering_angle, speed} for a discrete model")
        table = []
        for i, action in enumerate(space):
            if not isinstance(action, dict):
                raise bad(f"action_space[{i}]", "must be an object with steering_angle and speed")
            table.append((_number(action.get("steering_angle"), f"action_space[{i}].steering_angle", bad),
                          _number(action.get("speed"), f"action_space[{i}].speed", bad)))
        return ActionSpec(table=tuple(table))
    if not isinstance(space, dict):
        raise bad("action_space", "must be {steering_angle: {low, high}, speed: {low, high}} for a continuous model")
    bounds = {}
    for name in ("steering_angle", "speed"):
        part = space.get(name)
        if not isinstance(part, dict):
            raise bad(f"action_space.{name}", "must be an object with low and high")
        low = _number(part.get("low"), f"action_space.{name}.low", bad)
        high = _number(part.get("high"), f"action_space.{name}.high", bad)
        if low >= high:
            raise bad(f"action_space.{name}", f"needs low < high, got {low:g} and {high:g}")
        bounds[name] = (low, high)
    return ActionSpec(low=(bounds["steering_angle"][0], bounds["speed"][0]),
                      high=(bounds["steering_angle"][1], bounds["speed"][1]))


def write_metadata(actions: ActionSpec, network: str, algorithm: str = "clipped_ppo",
                   sensors=("front-camera",), lidar_config: dict | None = None) -> str:
    """model_metadata.json for a racekit policy with a DeepRacer network and its sensors (racekit's names)."""
    if actions.discrete:
        space = [{"steering_angle": steering, "speed": speed, "index": i}
                 for i, (steering, speed) in enumerate(actions.table)]
    else:
        space = {"steering_angle": {"low": actions.low[0], "high": actions.high[0]},
                 "speed": {"low": actions.low[1], "high": actions.high[1]}}
    return json.dumps({"action_space": space, "sensor": [SENSOR_NAMES[s] for s in sensors],
                       "neural_network": DEEPRACER_NAMES[network], "training_algorithm": algorithm,
                       "action_space_type": "discrete" if actions.discrete else "continuous",
                       **({"lidar_config": lidar_config} if lidar_config else {}), "version": "5"}, indent=4)
