"""The car's planar LIDAR: 64 rays in one PyBullet batched ray test per control step.

Where the rays point is DeepRacer Evo's (deepracer-simapp bundle/urdf/deepracer/deepracer_*_lidar.urdf and
sensors/constants.py): 64 rays from -150 to +150 degrees of the scanner's own frame, and the scanner mounted
turned around (hokuyo_joint yaw pi). In the car's frame (0 straight ahead, positive to the left) ray 0 points
30 degrees left of ahead and the rays sweep round through the left, behind and the right to ray 63, 30 degrees
right of ahead: a 60-degree blind cone ahead, which the camera covers. `RAY_ANGLES_DEG` holds them.

What the rays hit is whatever stands in the world as a solid body: boxes, bot cars, a track's obstacles, and
in head-to-head the other car's "shell" (sim/headtohead_sensors.py: an invisible box of the car's footprint,
0.15 m tall, that only rays hit, since the car's own body ends below the scan plane); the track itself is
flat tape on the ground, under the scan plane. Two departures from DeepRacer's
car, both so the scan sees what racekit's world holds:
- the scan plane is `LIDAR_HEIGHT` (0.10 m) above the ground, not DeepRacer's 0.18 m: racekit's bot cars and
  head-to-head car are boxes 0.13-0.15 m tall, which a plane at 0.18 m would pass over;
- each ray starts at the edge of the car's own footprint (`FOOTPRINT_HALF`), so it never hits the car casting
  it; a ray's range is still measured from the scanner. Nearer than that is inside the car, and every LIDAR
  form clips ranges below 0.15 m anyway.
"""
from __future__ import annotations

import math

import numpy as np
import pybullet as p

from racekit.sim.sensors import LIDAR_MAX_RANGE, LIDAR_RAYS

RAY_ANGLES_DEG = (180.0 + np.linspace(-150.0, 150.0, LIDAR_RAYS) + 180.0) % 360.0 - 180.0  # car frame, ray order
LIDAR_AHEAD = 0.029  # m ahead of the car's centre (hokuyo_joint x on DeepRacer's chassis)
LIDAR_HEIGHT = 0.10  # m above the ground: see above
FOOTPRINT_HALF = (0.145, 0.095)  # m: half the car's length and width, with a margin (sim/assets/car.urdf)


def footprint_exit(angles_rad: np.ndarray, ahead: float = LIDAR_AHEAD, half=FOOTPRINT_HALF) -> np.ndarray:
    """For rays from the scanner (`ahead` m in front of the car's centre) at these car-frame angles: how far each
    travels before it leaves the car's footprint rectangle."""
    c, s = np.cos(angles_rad), np.sin(angles_rad)
    with np.errstate(divide="ignore"):
        along = np.where(c > 0, (half[0] - ahead) / c, np.where(c < 0, (-half[0] - ahead) / c, np.inf))
        across = np.where(s != 0, half[1] / np.abs(s), np.inf)
    return np.minimum(along, across)


class Lidar:
    """The LIDAR of `car` (a sim.car.Car) in its PyBullet client: `scan()` gives the 64 raw ranges (m), inf where
    a ray meets nothing within LIDAR_MAX_RANGE (the `ground` body never counts)."""

    def __init__(self, client: int, car, ground: int = -1, height: float = LIDAR_HEIGHT):
        self.client, self.car = client, car
        self._ignore = (-1, car.body, ground)  # a car pitched under braking must not see the floor as a wall
        angles = np.radians(RAY_ANGLES_DEG)
        self._directions = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
        self._start = footprint_exit(angles)  # m from the scanner along each ray
        self._origin = np.array([LIDAR_AHEAD, 0.0, height])

    def scan(self) -> np.ndarray:
        origin, rot = self.car.chassis_frame()
        eye = origin + rot @ self._origin
        directions = self._directions @ rot.T
        starts = eye + directions * self._start[:, None]
        ends = eye + directions * LIDAR_MAX_RANGE
        hits = p.rayTestBatch(starts.tolist(), ends.tolist(), physicsClientId=self.client)
        fraction = np.array([h[2] for h in hits])
        hit = np.array([h[0] not in self._ignore for h in hits])
        ranges = self._start + fraction * (LIDAR_MAX_RANGE - self._start)
        return np.where(hit, ranges, math.inf)
