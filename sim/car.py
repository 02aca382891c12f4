"""The 1/18th-scale car in PyBullet: a chassis, two steering hinges and four driven wheels.

Geometry follows DeepRacer's simulator car (see assets/car.urdf). Steering is
Ackermann: each front hinge turns to its own angle so both wheels roll around
the same centre. Speed commands set the wheels' angular velocity (all four
driven, as on DeepRacer) through motors of limited torque, so the car
accelerates, brakes and, if asked to corner too fast, slides on real contacts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pybullet as p


@dataclass(frozen=True)
class CarSpec:
    wheelbase: float = 0.164  # m, axles at -0.082 and +0.082 from the car's centre
    track_width: float = 0.162  # m, between left and right wheel centres
    wheel_radius: float = 0.03  # m
    max_steering_deg: float = 30.0
    max_speed: float = 4.0  # m/s
    wheel_torque: float = 0.3  # N m per wheel: about 6 m/s^2 of grip-limited acceleration
    steering_rate: float = 10.0  # rad/s, a hobby servo's slew rate
    tyre_friction: float = 0.9
    reference_ahead: float = 0.14  # m ahead of the centre: DeepRacer's (x, y) reference point
    camera_ahead: float = 0.14  # m ahead of the centre
    camera_height: float = 0.14  # m above the ground
    camera_pitch_deg: float = 15.0  # pitched down


WHEEL_JOINTS = ("left_front_wheel_joint", "right_front_wheel_joint", "left_rear_wheel_joint", "right_rear_wheel_joint")
STEERING_JOINTS = ("left_steering_joint", "right_steering_joint")
WHEEL_LINKS = ("left_front_wheel", "right_front_wheel", "left_rear_wheel", "right_rear_wheel")


def wheel_speed_ratios(steering_rad: float, wheelbase: float, track_width: float) -> tuple[float, ...]:
    """Speed of each wheel (left front, right front, left rear, right rear) over the speed of the car's centre.

    In a turn every wheel rolls around the same centre on its own radius, as a differential allows;
    forcing one speed on all four would make the tyres scrub and the car plough wide.
    """
    if abs(steering_rad) < 1e-6:
        return 1.0, 1.0, 1.0, 1.0
    radius = abs(wheelbase / math.tan(steering_rad))  # of the rear axle's centre
    inner, outer = radius - track_width / 2, radius + track_width / 2
    centre = math.hypot(radius, wheelbase / 2)
    front_inner, front_outer = math.hypot(inner, wheelbase), math.hypot(outer, wheelbase)
    if steering_rad > 0:  # left turn: left wheels inside
        return front_inner / centre, front_outer / centre, inner / centre, outer / centre
    return front_outer / centre, front_inner / centre, outer / centre, inner / centre


def ackermann_angles(steering_rad: float, wheelbase: float, track_width: float) -> tuple[float, float]:
    """Left and right hinge angles for a bicycle-model steering angle (positive = left turn)."""
    if abs(steering_rad) < 1e-6:
        return 0.0, 0.0
    radius = wheelbase / math.tan(steering_rad)  # signed: positive turns left
    left = math.atan(wheelbase / (radius - track_width / 2))
    right = math.atan(wheelbase / (radius + track_width / 2))
    return left, right


class Car:
    """One car body in a PyBullet client. Poses are (x, y, yaw) of the car's centre, yaw in radians."""

    def __init__(self, client: int, spec: CarSpec = CarSpec()):
        self.client = client
        self.spec = spec
        urdf = resources.files("racekit.sim") / "assets" / "car.urdf"
        with resources.as_file(urdf) as path:
            self.body = p.loadURDF(str(path), [0, 0, 0], physicsClientId=client)
        names = {}
        for j in range(p.getNumJoints(self.body, physicsClientId=client)):
            info = p.getJointInfo(self.body, j, physicsClientId=client)
            names[info[1].decode()] = j
            names[info[12].decode()] = j  # link index == joint index in PyBullet
        self.wheel_joints = [names[n] for n in WHEEL_JOINTS]
        self.steering_joints = [names[n] for n in STEERING_JOINTS]
        self.wheel_links = [names[n] for n in WHEEL_LINKS]
        for link in self.wheel_links:
            p.changeDynamics(self.body, link, lateralFriction=spec.tyre_friction, physicsClientId=client)
        # PyBullet reports the base's centre of mass; poses here are of the chassis frame, on the ground
        self._com_in_chassis = np.array(p.getDynamicsInfo(self.body, -1, physicsClientId=client)[3])
        self._frame = None  # the chassis frame, read once per physics state (see moved())

    def reset(self, x: float, y: float, yaw: float) -> None:
        """Put the car at rest at (x, y, yaw), wheels straight."""
        orn = p.getQuaternionFromEuler([0, 0, yaw])
        com = np.array([x, y, 0.0]) + np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3) @ self._com_in_chassis
        p.resetBasePositionAndOrientation(self.body, com, orn, physicsClientId=self.client)
        p.resetBaseVelocity(self.body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        for j in self.wheel_joints + self.steering_joints:
            p.resetJointState(self.body, j, 0.0, 0.0, physicsClientId=self.client)
        self.moved()
        self.command(0.0, 0.0)

    def set_tyre_friction(self, friction: float) -> None:
        """The tyres' lateral friction from now on (grip; the spec's `tyre_friction` at the start)."""
        for link in self.wheel_links:
            p.changeDynamics(self.body, link, lateralFriction=float(friction), physicsClientId=self.client)

    def moved(self) -> None:
        """The physics moved the car: its pose is read anew when next asked (the world calls this)."""
        self._frame = None

    def command(self, steering_deg: float, speed: float) -> None:
        """Set the steering servo and the wheel motors; they act during the following physics steps."""
        s = self.spec
        steering = math.radians(min(max(float(steering_deg), -s.max_steering_deg), s.max_steering_deg))
        for joint, angle in zip(self.steering_joints, ackermann_angles(steering, s.wheelbase, s.track_width)):
            p.setJointMotorControl2(self.body, joint, p.POSITION_CONTROL, targetPosition=angle, force=5.0,
                                    maxVelocity=s.steering_rate, physicsClientId=self.client)
        wheel_rate = min(max(float(speed), -s.max_speed), s.max_speed) / s.wheel_radius
        ratios = wheel_speed_ratios(steering, s.wheelbase, s.track_width)
        for joint, ratio in zip(self.wheel_joints, ratios):
            p.setJointMotorControl2(self.body, joint, p.VELOCITY_CONTROL, targetVelocity=wheel_rate * ratio,
                                    force=s.wheel_torque, physicsClientId=self.client)

    def chassis_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Origin (on the ground under the car's centre) and rotation matrix of the chassis."""
        if self._frame is None:  # pose, reference point and camera all ask once a step: one PyBullet read
            com, orn = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
            rot = np.array(p.getMatrixFromQuaternion(orn)).reshape(3, 3)
            self._frame = (np.array(com) - rot @ self._com_in_chassis, rot)
        return self._frame

    def pose(self) -> tuple[float, float, float]:
        origin, rot = self.chassis_frame()
        return float(origin[0]), float(origin[1]), math.atan2(rot[1, 0], rot[0, 0])

    def speed(self) -> float:
        """Ground speed of the chassis in m/s."""
        (vx, vy, _), _ = p.getBaseVelocity(self.body, physicsClientId=self.client)
        return math.hypot(vx, vy)

    def reference_point(self) -> np.ndarray:
        x, y, yaw = self.pose()
        a = self.spec.reference_ahead
        return np.array([x + a * math.cos(yaw), y + a * math.sin(yaw)])

    def wheel_points(self) -> np.ndarray:
        """(4, 2) ground positions of the wheel centres: left front, right front, left rear, right rear."""
        states = p.getLinkStates(self.body, self.wheel_links, physicsClientId=self.client)
        return np.array([state[0][:2] for state in states])

    def camera_frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eye position, forward and up unit vectors of the front camera in the world."""
        origin, rot = self.chassis_frame()
        s = self.spec
        pitch = math.radians(s.camera_pitch_deg)
        eye = origin + rot @ np.array([s.camera_ahead, 0.0, s.camera_height])
        forward = rot @ np.array([math.cos(pitch), 0.0, -math.sin(pitch)])
        up = rot @ np.array([math.sin(pitch), 0.0, math.cos(pitch)])
        return eye, forward, up

    def touching(self, bodies) -> bool:
        """True when the car is in contact with any of `bodies` (obstacles, walls)."""
        return any(p.getContactPoints(self.body, b, physicsClientId=self.client) for b in bodies)

    def overlapping(self, bodies) -> bool:
        """True when the car's shapes touch or interpenetrate any of `bodies`, collidable with it or not."""
        return any(p.getClosestPoints(self.body, b, 0.0, physicsClientId=self.client) for b in bodies)

    def collide_with(self, body: int, enable: bool) -> None:
        """Switch the physics' contacts between the car (every link) and `body` (every link) on or off."""
        client = self.client
        for link in range(-1, p.getNumJoints(self.body, physicsClientId=client)):
            for other in range(-1, p.getNumJoints(body, physicsClientId=client)):
                p.setCollisionFilterPair(self.body, body, link, other, int(enable), physicsClientId=client)
