"""The car's sensors, as the service was started with them (`racekit car serve`, the options of `car drive`).

The service knows what the car carries: one camera, or a stereo pair (two devices, or one side-by-side
device), and a LIDAR or none. A model is checked against that when it is flashed (and when a stored one is
activated: the service may have been started with other sensors since), so a model whose sensors the car lacks
is refused there, in one line, long before any motor command (hardware/safety.py's sensor_mismatch: the same
words as `racekit car drive`). A car with a LIDAR also drives models without one: the LIDAR is left
off for them. The status page shows the sensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from racekit.hardware.lidar_observation import EVO_MOUNT_YAW_DEG
from racekit.hardware.model import ReadsSensors
from racekit.hardware.safety import sensor_mismatch


@dataclass(frozen=True)
class ModelSensors(ReadsSensors):
    """A model's sensor list as sensor_mismatch reads it (hardware.model.ModelSpec's names), from a stored
    model's record as well as from a model file."""

    sensors: tuple[str, ...]


@dataclass(frozen=True)
class CarSensors:
    camera: str = "0"  # the camera, or the left one of a stereo pair, or a side-by-side stereo device
    right_camera: str | None = None  # the right camera of a stereo pair of two devices
    side_by_side: bool = False
    lidar: str | None = None  # the RPLIDAR's serial port
    lidar_mount_yaw_deg: float = EVO_MOUNT_YAW_DEG
    lidar_baudrate: int | None = None
    lidar_motor_pwm: int | None = None

    @property
    def stereo(self) -> bool:
        return self.right_camera is not None or self.side_by_side

    def refusal(self, model_sensors: Sequence[str]) -> str | None:
        """Why this car cannot drive a model reading `model_sensors` (its metadata's, checked by
        hardware.model), or None when it can: one line."""
        model = ModelSensors(tuple(model_sensors))
        cameras = 2 if self.right_camera is not None else 1
        why = sensor_mismatch(model, cameras, self.side_by_side, self.lidar is not None and model.lidar is not None)
        return why and f"{why} (this car: {self.summary()}; `racekit car serve` takes these options)"

    def drive_options(self, model_sensors) -> dict:
        """DriveConfig's sensor fields for a model reading `model_sensors` (the LIDAR only if it reads one)."""
        lidar = self.lidar if ModelSensors(tuple(model_sensors)).lidar else None
        return {"camera": self.camera, "right_camera": self.right_camera, "side_by_side": self.side_by_side,
                "lidar": lidar, "lidar_mount_yaw_deg": self.lidar_mount_yaw_deg,
                "lidar_baudrate": self.lidar_baudrate, "lidar_motor_pwm": self.lidar_motor_pwm}

    def summary(self) -> str:
        """One line: "camera 0", "stereo cameras 0 (left) and 2 (right), LIDAR /dev/ttyUSB0 (mount yaw 180 deg)"."""
        text = (f"stereo cameras {self.camera} (left) and {self.right_camera} (right)" if self.right_camera
                else f"side-by-side stereo camera {self.camera}" if self.side_by_side else f"camera {self.camera}")
        if self.lidar is None:
            return text + ", no LIDAR"
        return text + f", LIDAR {self.lidar} (mount yaw {self.lidar_mount_yaw_deg:g} deg)"

    def describe(self) -> dict:
        """For the status JSON: the camera sensor the car has, its sources, its LIDAR, and the summary line."""
        return {"camera": "stereo-cameras" if self.stereo else "front-camera",
                "camera_sources": [self.camera] + ([self.right_camera] if self.right_camera else []),
                "side_by_side": self.side_by_side, "lidar": self.lidar,
                "lidar_mount_yaw_deg": self.lidar_mount_yaw_deg if self.lidar else None, "summary": self.summary()}
