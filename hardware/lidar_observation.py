"""A LIDAR scan -> exactly the observation DeepRacer's simulator gives the policy (numpy only).

Two steps, each usable alone:
  scan_to_ranges     a device scan (angles in the LIDAR's own frame) -> 64 raw ranges on
                     DeepRacer's rays, in metres, +inf where nothing was seen
  lidar_observation  64 raw ranges -> the "lidar", "sector-lidar" or
                     "discretized-sector-lidar" observation
The simulator (racekit/sim) computes its observation from its own 64 ray
casts with the same `lidar_observation` rules, so a model sees the same thing
on the car as in training; a test feeds the same ranges through both.

DeepRacer's facts (deepracer-simapp, bundle/markov): sensors/constants.py
(LIDAR_360_DEGREE_SAMPLE 64, MIN/MAX_ANGLE -/+2.61799 rad, MIN_RANGE 0.15,
MAX_RANGE 12.0), environments/constants.py (8 sectors, 0.5 m sector clipping),
filters/observation/observation_binary_filter.py and
observation_sector_discretize_filter.py; the "lidar" sensor is clipped to
[0.15, 1.0]. The URDF deepracer_stereo_cam_lidar.urdf mounts the LIDAR turned
around (hokuyo_joint rpy 0 0 pi), so ray i, at linspace(-150, 150, 64)[i]
counter-clockwise in the LIDAR's frame, points at 180 + that in the car's
frame: ray 0 at +30 degrees (front left), sweeping through the left, behind
and the right to ray 63 at -30 degrees; the 60 degrees straight ahead are the
cameras' (a blind cone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_RAYS = 64
LIDAR_FRAME_ANGLES_DEG = np.linspace(-150.0, 150.0, NUM_RAYS)  # DeepRacer's LIDAR frame, counter-clockwise
# The car's frame: 0 straight ahead, positive to the left, in (-180, 180]; index 0 = +30, index 63 = -30.
RAY_ANGLES_DEG = 180.0 - (180.0 - (180.0 + LIDAR_FRAME_ANGLES_DEG)) % 360.0  # 180 + angle, wrapped
RAY_SPACING_DEG = 300.0 / (NUM_RAYS - 1)
MIN_RANGE = 0.15  # metres: the simulated sensor's range (sensors/constants.py)
MAX_RANGE = 12.0
LIDAR_CLIP = 1.0  # "lidar": ranges clipped to [MIN_RANGE, LIDAR_CLIP]
NUM_SECTORS = 8  # "sector-lidar": 8 sectors of 8 consecutive rays ...
SECTOR_CLIPPING_DIST = 0.5  # ... each 1 when its nearest return is nearer than this
SENSORS = ("lidar", "sector-lidar", "discretized-sector-lidar")
EVO_MOUNT_YAW_DEG = 180.0  # where the device's 0 points in the car's frame, as on DeepRacer Evo


@dataclass(frozen=True)
class LidarConfig:
    """The "discretized-sector-lidar" settings (model_metadata.json's lidar_config; DeepRacer's defaults)."""
    num_sectors: int = 8
    num_values_per_sector: int = 8
    clipping_dist: float = 2.0

    def check(self) -> "LidarConfig":
        """The same config with clipping_dist clamped to [MIN_RANGE, MAX_RANGE]; ValueError on a bad field."""
        for name in ("num_sectors", "num_values_per_sector"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"lidar_config {name} must be a whole number >= 1, got {value!r}")
        if NUM_RAYS % self.num_sectors:
            raise ValueError(f"lidar_config num_sectors must divide the {NUM_RAYS} LIDAR rays "
                             f"(1, 2, 4, 8, 16, 32 or 64), got {self.num_sectors}")
        dist = self.clipping_dist
        if isinstance(dist, bool) or not isinstance(dist, (int, float, np.floating)) or not np.isfinite(dist):
            raise ValueError(f"lidar_config clipping_dist must be a distance in metres, got {dist!r}")
        return LidarConfig(int(self.num_sectors), int(self.num_values_per_sector),
                           float(min(max(dist, MIN_RANGE), MAX_RANGE)))


def observation_size(sensor: str, config: LidarConfig | None = None) -> int:
    """Length of the observation vector of `sensor`."""
    if sensor == "lidar":
        return NUM_RAYS
    if sensor == "sector-lidar":
        return NUM_SECTORS
    if sensor == "discretized-sector-lidar":
        config = (config or LidarConfig()).check()
        return config.num_sectors * config.num_values_per_sector
    raise ValueError(f"unknown LIDAR sensor '{sensor}' (known: {', '.join(SENSORS)})")


def scan_to_ranges(angles_deg, distances_m, mount_yaw_deg: float = EVO_MOUNT_YAW_DEG, *,
                   clockwise: bool = True) -> np.ndarray:
    """A device scan -> 64 raw ranges (float64 metres) on DeepRacer's rays, in RAY_ANGLES_DEG order.

    angles_deg: each return's angle in the device's frame (an RPLIDAR counts
    clockwise seen from above: `clockwise=True`); mount_yaw_deg: where the
    device's 0 points in the car's frame (0 = ahead, 90 = left). Each ray
    takes the nearest return within half a ray spacing of its angle (from
    -half, inclusive, to +half); no return there (no sample, distance 0, or
    beyond MAX_RANGE) -> +inf.
    """
    angles = np.asarray(angles_deg, np.float64).reshape(-1)
    dists = np.asarray(distances_m, np.float64).reshape(-1)
    if angles.shape != dists.shape:
        raise ValueError(f"a scan needs one angle per distance, got {angles.size} angles and {dists.size} distances")
    car = mount_yaw_deg - angles if clockwise else mount_yaw_deg + angles
    # ray k covers [RAY_ANGLES_DEG[k] - spacing / 2, + spacing / 2), counter-clockwise from ray 0
    ray = np.floor((car - RAY_ANGLES_DEG[0] + RAY_SPACING_DEG / 2) % 360.0 / RAY_SPACING_DEG).astype(np.int64)
    seen = (ray < NUM_RAYS) & (dists > 0) & (dists <= MAX_RANGE)  # NaN compares False
    ranges = np.full(NUM_RAYS, np.inf)
    np.minimum.at(ranges, ray[seen], dists[seen])
    return ranges


def _ranges(ranges) -> np.ndarray:
    r = np.asarray(ranges, np.float64)
    if r.shape != (NUM_RAYS,):
        raise ValueError(f"LIDAR ranges must be {NUM_RAYS} values, got shape {r.shape}")
    return np.where(np.isnan(r), np.inf, r)  # NaN = no return


def lidar_observation(ranges, sensor: str, config: LidarConfig | None = None) -> np.ndarray:
    """64 raw ranges (metres, inf = nothing) -> the float32 observation DeepRacer gives for `sensor`.

    "lidar": the ranges clipped to [0.15, 1.0] [64]; "sector-lidar": per 8
    consecutive rays 1.0 if the nearest is nearer than 0.5 m, else 0.0 [8];
    "discretized-sector-lidar": per sector the nearest, clipped to
    clipping_dist, as a one-hot bucket of clipping_dist / values metres
    without the "nothing seen" bucket [sectors * values].
    """
    r = _ranges(ranges)
    if sensor == "lidar":
        return np.clip(r, MIN_RANGE, LIDAR_CLIP).astype(np.float32)
    if sensor == "sector-lidar":
        return (r.reshape(NUM_SECTORS, -1).min(axis=1) < SECTOR_CLIPPING_DIST).astype(np.float32)
    if sensor == "discretized-sector-lidar":
        config = (config or LidarConfig()).check()
        values = config.num_values_per_sector
        nearest = np.minimum(r.reshape(config.num_sectors, -1).min(axis=1), config.clipping_dist)
        bucket = np.floor(nearest / (config.clipping_dist / values)).astype(np.int64)
        one_hot = np.zeros((config.num_sectors, values + 1), np.float32)
        one_hot[np.arange(config.num_sectors), bucket] = 1.0
        return one_hot[:, :-1].reshape(-1)  # the last column is "nothing within clipping_dist"
    raise ValueError(f"unknown LIDAR sensor '{sensor}' (known: {', '.join(SENSORS)})")
