"""The car's physics: Ackermann steering, speed control, turning radius, sliding when cornering fast."""
import math

import numpy as np
import pytest

from racekit.sim.car import CarSpec, ackermann_angles
from racekit.sim.world import World
from racekit.tracks import load_track


def test_ackermann_inner_wheel_turns_more_and_both_share_one_centre():
    spec = CarSpec()
    left, right = ackermann_angles(math.radians(20), spec.wheelbase, spec.track_width)
    assert left > math.radians(20) > right > 0  # turning left: the left wheel is the inner one
    radius = spec.wheelbase / math.tan(math.radians(20))
    # each wheel's axle line passes through the same turning centre on the rear axle line
    assert spec.wheelbase / math.tan(left) == pytest.approx(radius - spec.track_width / 2)
    assert spec.wheelbase / math.tan(right) == pytest.approx(radius + spec.track_width / 2)
    assert ackermann_angles(-math.radians(20), spec.wheelbase, spec.track_width) == pytest.approx((-right, -left))
    assert ackermann_angles(0.0, spec.wheelbase, spec.track_width) == (0.0, 0.0)


@pytest.fixture
def world():
    w = World(load_track("oval"))
    w.reset_car(0.0, 0.0, 0.0)
    yield w
    w.close()


def drive(world, steering, speed, seconds):
    poses = []
    for _ in range(int(seconds * 15)):
        world.step(steering, speed)
        poses.append(world.car.pose())
    return np.array(poses)


def test_car_reaches_commanded_speed_and_drives_straight(world):
    poses = drive(world, 0.0, 2.0, 2.0)
    assert world.car.speed() == pytest.approx(2.0, rel=0.05)
    assert abs(poses[-1][1]) < 0.05 and abs(poses[-1][2]) < math.radians(2)  # no drift sideways
    assert poses[-1][0] > 2.5  # it moved forward (+x)
    assert world.sim_time == pytest.approx(2.0)


def path_radius(poses) -> float:
    """Radius of the path of the car's centre: distance driven / heading turned."""
    length = np.sum(np.hypot(*np.diff(poses[:, :2], axis=0).T))
    turned = abs(np.unwrap(poses[:, 2])[-1] - np.unwrap(poses[:, 2])[0])
    return length / turned


def test_slow_full_lock_circle_matches_the_kinematic_radius(world):
    poses = drive(world, 30.0, 0.5, 4.0)[15:]  # after the servo and speed settle
    rear_axle = CarSpec().wheelbase / math.tan(math.radians(30))  # 0.284 m
    expected = math.hypot(rear_axle, CarSpec().wheelbase / 2)  # the car's centre is half a wheelbase ahead
    assert path_radius(poses) == pytest.approx(expected, rel=0.1)


def test_fast_full_lock_slides_wider_than_the_kinematic_circle(world):
    slow = drive(world, 30.0, 0.5, 3.0)
    world.reset_car(0.0, 0.0, 0.0)
    fast = drive(world, 30.0, 4.0, 3.0)

    # tyres have finite grip: at 4 m/s the car cannot hold the 0.3 m circle
    assert path_radius(fast[15:]) > 1.5 * path_radius(slow[15:])
