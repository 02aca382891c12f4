"""The fake RPLIDAR of the LIDAR tests: hardware/virtual_lidar.py's VirtualLidar (the device's protocol bytes
on a pseudo-terminal, built from the protocol document independently of the driver), and scenes for it."""
from __future__ import annotations

from typing import Callable

from racekit.hardware.virtual_lidar import BANNER, RangesScene, VirtualLidar, descriptor, encode_sample  # noqa: F401

FakeLidar = VirtualLidar


def box(angle_deg: float, distance_m: float, width_deg: float = 10.0) -> Callable[[float], float]:
    """A scene with one object `width_deg` wide at `angle_deg` (device frame), `distance_m` away; nothing else."""
    def scene(a: float) -> float:
        return distance_m if abs((a - angle_deg + 180.0) % 360.0 - 180.0) <= width_deg / 2 + 1e-9 else 0.0
    return scene
