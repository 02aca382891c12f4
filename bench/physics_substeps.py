"""How many physics substeps per 15 Hz control step? The car's behaviour and cost for each.

For each substep count: the cost of one control step of physics, the speed the car
reaches, its sideways wander on a straight, its slow full-lock circle against the
kinematic radius, how much wider it slides at 4 m/s full lock, and the expert
driver's lap of the default track (race rules) beside the 8-substep reference.
The fewest substeps whose figures stay within the car tests' tolerances and close to
the reference is the default.

    .venv/bin/python bench/physics_substeps.py
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from racekit.sim.car import CarSpec
from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import ExpertDriver, drive_lap
from racekit.sim.world import World
from racekit.tracks import DEFAULT_TRACK, load_track


def drive(world, steering, speed, seconds):
    poses = []
    for _ in range(int(seconds * 15)):
        world.step(steering, speed)
        poses.append(world.car.pose())
    return np.array(poses)


def path_radius(poses) -> float:
    length = np.sum(np.hypot(*np.diff(poses[:, :2], axis=0).T))
    return length / abs(np.unwrap(poses[:, 2])[-1] - np.unwrap(poses[:, 2])[0])


def figures(substeps: int) -> dict:
    world = World(load_track("oval"), substeps=substeps)
    world.reset_car(0.0, 0.0, 0.0)
    start = time.perf_counter()
    straight = drive(world, 0.0, 2.0, 2.0)
    per_step_ms = (time.perf_counter() - start) / len(straight) * 1e3
    speed = world.car.speed()
    world.reset_car(0.0, 0.0, 0.0)
    slow = path_radius(drive(world, 30.0, 0.5, 4.0)[15:])
    world.reset_car(0.0, 0.0, 0.0)
    fast = path_radius(drive(world, 30.0, 4.0, 3.0)[15:])
    world.close()
    env = TimeTrialEnv(track=DEFAULT_TRACK, substeps=substeps, race=True, laps=1)
    lap = drive_lap(env, ExpertDriver(env))
    env.close()
    return {"ms": per_step_ms, "speed": speed, "wander": abs(straight[-1][1]), "slow": slow, "fast": fast,
            "lap": lap["lap_time"] or float("nan"), "offtracks": lap["info"]["offtracks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--substeps", type=int, nargs="+", default=[8, 6, 5, 4, 3, 2])
    args = parser.parse_args()
    kinematic = math.hypot(CarSpec().wheelbase / math.tan(math.radians(30)), CarSpec().wheelbase / 2)
    print(f"{'substeps':>8} {'physics ms/step':>15} {'speed (2.0)':>11} {'wander m':>8} "
          f"{'slow radius/kinematic':>21} {'fast/slow radius':>16} {'expert lap s':>12} {'off':>3}")
    rows = {n: figures(n) for n in args.substeps}
    for n, f in rows.items():
        print(f"{n:>8} {f['ms']:>15.3f} {f['speed']:>11.3f} {f['wander']:>8.4f} {f['slow'] / kinematic:>21.3f} "
              f"{f['fast'] / f['slow']:>16.2f} {f['lap']:>12.3f} {f['offtracks']:>3}")
    print("car tests' tolerances: speed within 5% of 2.0, wander < 0.05 m, slow radius within 10% of kinematic, "
          "fast/slow > 1.5")


if __name__ == "__main__":
    main()
