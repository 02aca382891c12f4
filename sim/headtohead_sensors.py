"""One car's sensors in a head-to-head heat (sim/headtohead.py): what its model reads, as the env gives it.

Each car has the sensors its own model was trained with (sim/sensors.py): the front camera or DeepRacer Evo's
stereo pair, and at most one LIDAR. They are the env's (sim/env.py), taken from this car:
- the camera (or each camera of the pair, STEREO_BASELINE apart, grey) looks from this car's mount, through
  this car's renderer (its look), with the other car drawn in it and never itself;
- the LIDAR (sim/lidar.py) casts its rays from this car in the shared PyBullet client, so it sees the other
  car's body, and never its own (the rays start outside the casting car's footprint and ignore its body);
  the ranges carry the scanner's 1 cm of noise, from a generator seeded per car so a heat repeats;
- the observation is the camera's stacked frames alone, or with a LIDAR the env's dict keyed by sensor.

What a LIDAR sees of a car is its `LidarShell`: racekit's car collides through a low slab and four wheels
(sim/assets/car.urdf: nothing above 0.07 m), which the scan plane (0.10 m up, sim/lidar.py) passes over. A real
DeepRacer stands 0.15 m tall, as racekit's bot cars do (sim/objects.py BOT_SIZE), and a model trained against
bots sees cars that tall; so each car carries a shell of its own footprint and that height, moved to the car's
pose before every scan. Rays hit it and the cars pass through it: collisions between each shell and every
part of both cars are switched off pair by pair (PyBullet's setCollisionFilterPair; its group masks cannot do
it, since a body collides when either one's group is in the other's mask). No camera draws it: the
PyBullet renderers draw a body without a visual shape as its collision shape, so its visual is a speck buried
under the ground. A car's own rays never meet its shell: they start outside the footprint.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pybullet as p

from racekit.sim.camera import STEREO_BASELINE, CameraSpec, camera_pose
from racekit.sim.lidar import Lidar
from racekit.sim.objects import BOT_SIZE
from racekit.sim.render import Box
from racekit.sim.sensors import LIDAR_NOISE_M, LidarConfig, SensorError, check_sensors, lidar_observation, lidar_of

# The car's outline as the fast renderer draws it: body 0.25 m long, wheels out to 0.094 m each side,
# the roof 0.095 m up (sim/assets/car.urdf); a LIDAR sees this footprint as tall as DeepRacer's car
CAR_BOX = (0.25, 0.187, 0.095)


def car_box(car, rgb) -> Box:
    """The car as the fast renderer draws another car: a box of its size and colour at its pose."""
    x, y, yaw = car.pose()
    length, width, height = CAR_BOX
    return Box((x, y, height / 2), (length / 2, width / 2, height / 2), yaw, tuple(rgb))


class LidarShell:
    """What LIDAR rays hit of `car`: a box of `footprint` (length, width; m) and DeepRacer's car's height,
    hit by rays only (see the module docstring). `follow()` puts it where the car is."""

    def __init__(self, client: int, car, footprint: tuple[float, float], height: float = BOT_SIZE[2]):
        self.client, self.car, self.height = client, car, height
        half = [footprint[0] / 2, footprint[1] / 2, height / 2]
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
        speck = p.createVisualShape(p.GEOM_SPHERE, radius=0.001, visualFramePosition=[0, 0, -1.0],
                                    physicsClientId=client)  # out of every camera's sight (see above)
        self.body = p.createMultiBody(0, shape, speck, [0, 0, -10.0], physicsClientId=client)
        self.follow()

    @classmethod
    def for_cars(cls, client: int, cars, footprint) -> list["LidarShell"]:
        """A shell for each car, which neither car collides with."""
        shells = [cls(client, car, footprint) for car in cars]
        for shell in shells:
            shell.pass_through(cars)
        return shells

    def pass_through(self, cars) -> None:
        """These cars (sim.car.Car) never collide with the shell (its own car and the other one)."""
        for car in cars:
            for link in range(-1, p.getNumJoints(car.body, physicsClientId=self.client)):
                p.setCollisionFilterPair(self.body, car.body, -1, link, 0, physicsClientId=self.client)

    def follow(self) -> None:
        x, y, yaw = self.car.pose()
        p.resetBasePositionAndOrientation(self.body, [x, y, self.height / 2], p.getQuaternionFromEuler([0, 0, yaw]),
                                          physicsClientId=self.client)


class CarSensors:
    """The sensors of `car` (a sim.car.Car in `world`'s client): `picture(renderer, boxes)` is one new camera
    frame (front: H x W x channels; stereo: H x W x 2, grey left then right), `scan()` takes a LIDAR scan,
    `observation(frames)` is what the model reads."""

    def __init__(self, world, car, camera: CameraSpec, sensors=("front-camera",), lidar_config=None, seed: int = 0):
        self.sensors = check_sensors(sensors)
        self.camera = camera
        self.stereo = self.sensors[0] == "stereo-cameras"
        if self.stereo and camera.channels != 1:
            raise SensorError("stereo-cameras are grey, one channel per camera (DeepRacer's), "
                              f"got a camera of {camera.channels} channels")
        self.lidar_sensor = lidar_of(self.sensors)
        self.lidar_config = lidar_config if isinstance(lidar_config, LidarConfig) else \
            LidarConfig.from_dict(lidar_config)
        self.car = car
        self.lidar = Lidar(world.client, car, world.ground) if self.lidar_sensor else None
        self._rng = np.random.default_rng(seed)
        self.ranges: np.ndarray | None = None  # the last scan's 64 raw ranges (m, inf: nothing), for the replay

    @property
    def frame_channels(self) -> int:
        """Channels of one frame of the stack: 2 for a stereo pair (left, right), else the camera's."""
        return 2 if self.stereo else self.camera.channels

    def picture(self, renderer, boxes) -> np.ndarray:
        if not self.stereo:
            return renderer.render(camera_pose(self.car, self.camera), self.camera.channels, boxes)
        grey = replace(self.camera, channels=1)
        left, right = (renderer.render(camera_pose(self.car, grey, None, side * STEREO_BASELINE / 2), 1, boxes)
                       for side in (1, -1))  # the left camera is STEREO_BASELINE / 2 to the car's left
        return np.concatenate([left, right], axis=2)

    def scan(self) -> None:
        """The LIDAR's ranges now, with the scanner's noise (none without a LIDAR)."""
        if self.lidar is not None:
            ranges = self.lidar.scan()
            self.ranges = ranges + self._rng.normal(0.0, LIDAR_NOISE_M, ranges.shape) * np.isfinite(ranges)

    def observation(self, frames: np.ndarray):
        if self.lidar is None:
            return frames
        return {self.sensors[0]: frames,
                self.lidar_sensor: lidar_observation(self.ranges, self.lidar_sensor, self.lidar_config)}
