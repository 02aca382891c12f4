"""The car's sensors, as DeepRacer names and shapes them: one camera, and at most one LIDAR.

DeepRacer lets a model choose its sensors (model_metadata.json's `sensor` list; ../shared/deepracer-models/
README.md): exactly one camera, the front camera or a stereo pair, and optionally one LIDAR, in one of three
forms. racekit uses the same five, under command-line names:

    front-camera               FRONT_FACING_CAMERA        (H, W, channels * frame_stack) uint8
    stereo-cameras             STEREO_CAMERAS             (H, W, 2 * frame_stack) uint8: grey left, grey right
    lidar                      LIDAR                      (64,) float32 metres, clipped to [0.15, 1.0]
    sector-lidar               SECTOR_LIDAR               (8,) float32: 1 where a sector has something within 0.5 m
    discretized-sector-lidar   DISCRETIZED_SECTOR_LIDAR   (sectors * values,) float32 one-hot distance bins

The LIDAR forms are computed from one scan of 64 raw ranges (metres, inf where nothing returned) by
`lidar_observation`, exactly as DeepRacer's simulator filters its scan (deepracer-simapp: the clipping filter
of sagemaker_graph_manager.py, filters/observation/observation_binary_filter.py and
observation_sector_discretize_filter.py). The car (hardware/lidar_observation.py) does the same from a real
scan; a test feeds the same ranges through both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

CAMERAS = ("front-camera", "stereo-cameras")
LIDARS = ("lidar", "sector-lidar", "discretized-sector-lidar")
SENSORS = CAMERAS + LIDARS
DEEPRACER_NAMES = {"front-camera": "FRONT_FACING_CAMERA", "stereo-cameras": "STEREO_CAMERAS", "lidar": "LIDAR",
                   "sector-lidar": "SECTOR_LIDAR", "discretized-sector-lidar": "DISCRETIZED_SECTOR_LIDAR"}

LIDAR_RAYS = 64  # deepracer-simapp sensors/constants.py: LIDAR_360_DEGREE_SAMPLE
LIDAR_MIN_RANGE, LIDAR_MAX_RANGE = 0.15, 12.0  # m: what the scanner itself returns
LIDAR_CLIP = (0.15, 1.0)  # m: the LIDAR observation's clipping (sagemaker_graph_manager.py)
SECTOR_LIDAR_SECTORS, SECTOR_LIDAR_DISTANCE = 8, 0.5  # environments/constants.py
LIDAR_NOISE_M = 0.01  # the simulator's range noise, standard deviation (LIDAR_360_DEGREE_NOISE_STDDEV)


class SensorError(ValueError):
    """A sensor list or LIDAR setting DeepRacer would not accept; the message says which and why."""


@dataclass(frozen=True)
class LidarConfig:
    """model_metadata.json's `lidar_config`, for the discretised sector LIDAR (DeepRacer's defaults)."""

    num_sectors: int = 8
    num_values_per_sector: int = 8
    clipping_dist: float = 2.0  # m

    def __post_init__(self):
        if isinstance(self.num_sectors, bool) or not isinstance(self.num_sectors, int) or self.num_sectors < 1 \
                or LIDAR_RAYS % self.num_sectors:
            raise SensorError(f"lidar_config num_sectors must divide the LIDAR's {LIDAR_RAYS} rays "
                              f"(1, 2, 4, 8, 16, 32 or 64), got {self.num_sectors!r}")
        if isinstance(self.num_values_per_sector, bool) or not isinstance(self.num_values_per_sector, int) \
                or self.num_values_per_sector < 1:
            raise SensorError(f"lidar_config num_values_per_sector must be a whole number >= 1, "
                              f"got {self.num_values_per_sector!r}")
        if not isinstance(self.clipping_dist, (int, float)) or not LIDAR_MIN_RANGE <= self.clipping_dist \
                <= LIDAR_MAX_RANGE:
            raise SensorError(f"lidar_config clipping_dist must be from {LIDAR_MIN_RANGE} to {LIDAR_MAX_RANGE} m, "
                              f"got {self.clipping_dist!r}")

    @classmethod
    def from_dict(cls, values: dict | None) -> "LidarConfig":
        values = dict(values or {})
        unknown = set(values) - {"num_sectors", "num_values_per_sector", "clipping_dist"}
        if unknown:
            raise SensorError(f"lidar_config: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return {"num_sectors": self.num_sectors, "num_values_per_sector": self.num_values_per_sector,
                "clipping_dist": float(self.clipping_dist)}


def check_sensors(sensors) -> tuple[str, ...]:
    """The sensor list as DeepRacer allows it, camera first: exactly one camera and at most one LIDAR.
    Accepts racekit's names or DeepRacer's (FRONT_FACING_CAMERA, ...; "observation" and LEFT_CAMERA are the
    front camera). Anything else raises SensorError naming what is wrong."""
    if isinstance(sensors, str):
        sensors = [sensors]
    by_deepracer = {v: k for k, v in DEEPRACER_NAMES.items()} | {"observation": "front-camera",
                                                                 "LEFT_CAMERA": "front-camera"}
    names = []
    for sensor in sensors:
        name = by_deepracer.get(sensor, sensor)
        if name not in SENSORS:
            raise SensorError(f"unknown sensor {sensor!r} (sensors: {', '.join(SENSORS)})")
        if name in names:
            raise SensorError(f"sensor {name!r} is listed twice")
        names.append(name)
    cameras = [n for n in names if n in CAMERAS]
    lidars = [n for n in names if n in LIDARS]
    if len(cameras) != 1:
        raise SensorError(f"a car has exactly one camera (front-camera or stereo-cameras), got "
                          f"{', '.join(cameras) or 'none'} (DeepRacer's rule)")
    if len(lidars) > 1:
        raise SensorError(f"a car has at most one LIDAR, got {', '.join(lidars)} (DeepRacer's rule)")
    return tuple(cameras + lidars)


def lidar_of(sensors) -> str | None:
    """The LIDAR in a (checked) sensor list, or None."""
    return next((s for s in sensors if s in LIDARS), None)


def lidar_space(sensor: str, config: LidarConfig = LidarConfig()) -> spaces.Box:
    """The observation space of one LIDAR form."""
    if sensor == "lidar":
        return spaces.Box(LIDAR_CLIP[0], LIDAR_CLIP[1], (LIDAR_RAYS,), np.float32)
    size = SECTOR_LIDAR_SECTORS if sensor == "sector-lidar" else config.num_sectors * config.num_values_per_sector
    if sensor not in LIDARS:
        raise SensorError(f"{sensor!r} is not a LIDAR ({', '.join(LIDARS)})")
    return spaces.Box(0.0, 1.0, (size,), np.float32)


def lidar_observation(ranges, sensor: str, config: LidarConfig = LidarConfig()) -> np.ndarray:
    """One scan's 64 raw ranges (m; inf = nothing returned) as the `sensor` form DeepRacer's model reads."""
    ranges = np.asarray(ranges, dtype=np.float64)
    if ranges.shape != (LIDAR_RAYS,):
        raise SensorError(f"a LIDAR scan has {LIDAR_RAYS} ranges, got shape {ranges.shape}")
    if sensor == "lidar":
        return np.clip(ranges, *LIDAR_CLIP).astype(np.float32)
    if sensor == "sector-lidar":
        nearest = ranges.reshape(SECTOR_LIDAR_SECTORS, -1).min(axis=1)
        return (nearest < SECTOR_LIDAR_DISTANCE).astype(np.float32)
    if sensor == "discretized-sector-lidar":
        values = config.num_values_per_sector
        nearest = np.minimum(ranges.reshape(config.num_sectors, -1).min(axis=1), config.clipping_dist)
        bins = np.floor(np.maximum(nearest, 0.0) / (config.clipping_dist / values)).astype(int)
        one_hot = np.zeros((config.num_sectors, values + 1), np.float32)
        one_hot[np.arange(config.num_sectors), np.minimum(bins, values)] = 1.0
        return one_hot[:, :values].reshape(-1)  # the last bin, "nothing within clipping_dist", is dropped
    raise SensorError(f"{sensor!r} is not a LIDAR ({', '.join(LIDARS)})")
