"""A state-based expert driver: pure pursuit on the centre line with a curvature speed profile.

It reads the true car pose (not pixels). It is the oracle of the tests and
benchmarks, and the baseline lap time that trained policies are compared with.
"""
from __future__ import annotations

import math

import numpy as np


class ExpertDriver:
    """Drive `env` (a TimeTrialEnv) along its track.

    Speed: v(s) = sqrt(lateral_accel / curvature), capped at `max_speed`, then lowered
    where needed so the car can brake at `braking` m/s^2 before each corner.
    Steering: pure pursuit of the centre-line point `lookahead(v)` ahead of the rear axle.
    The defaults sit about 20% under the tyres' grip (friction 0.9: 8.8 m/s^2); from 9 m/s^2 on
    it starts to leave the track (bench: a sweep over the built-in and three DeepRacer tracks).
    """

    def __init__(self, env, max_speed: float | None = None, lateral_accel: float = 7.0, braking: float = 5.0):
        self.env = env.unwrapped
        track = self.env.track
        low, high = self._speed_limits()
        self.max_speed = min(high, max_speed) if max_speed else high
        self.min_speed = low
        self.wheelbase = self.env.car_spec.wheelbase
        self.spacing = 0.05
        self.grid = np.arange(0.0, track.length, self.spacing)
        self.speeds = self._speed_profile(track, lateral_accel, braking)

    def _speed_limits(self) -> tuple[float, float]:
        if self.env.actions is not None:
            return float(self.env.actions[:, 1].min()), float(self.env.actions[:, 1].max())
        return float(self.env.action_space.low[1]), float(self.env.action_space.high[1])

    def _speed_profile(self, track, lateral_accel: float, braking: float) -> np.ndarray:
        heading = np.unwrap(track.heading_at(self.grid))
        window = max(1, int(0.3 / self.spacing))  # curvature over 0.3 m smooths waypoint kinks
        curvature = np.abs(np.gradient(heading, self.spacing))
        curvature = np.convolve(np.pad(curvature, window, mode="wrap"), np.ones(2 * window + 1) / (2 * window + 1),
                                mode="same")[window:-window]
        speeds = np.minimum(self.max_speed, np.sqrt(lateral_accel / np.maximum(curvature, 1e-6)))
        speeds = np.maximum(speeds, self.min_speed)
        # backward pass (twice around the loop) so the car slows down before corners
        n = len(speeds)
        for k in range(2 * n if track.closed else n, 0, -1):
            i, j = (k - 1) % n, k % n
            if j == 0 and not track.closed:
                continue
            speeds[i] = min(speeds[i], math.sqrt(speeds[j] ** 2 + 2 * braking * self.spacing))
        return speeds

    def act(self, observation=None):
        """The next action: a (steering_deg, speed) array, or the nearest index for discrete envs."""
        env, track = self.env, self.env.track
        x, y, yaw = env.world.car.pose()
        rear = np.array([x, y]) - self.wheelbase / 2 * np.array([math.cos(yaw), math.sin(yaw)])
        s, _ = track.project(rear, near_s=env.lap.s)
        speed = float(np.interp(s + 0.3, self.grid, self.speeds, period=track.length if track.closed else None))
        lookahead = 0.35 + 0.25 * speed
        target = track.point_at(s + lookahead if track.closed else min(s + lookahead, track.length))
        alpha = math.atan2(target[1] - rear[1], target[0] - rear[0]) - yaw
        distance = max(1e-3, float(np.hypot(*(target - rear))))
        steering = math.degrees(math.atan2(2 * self.wheelbase * math.sin(alpha), distance))
        if env.actions is not None:
            scale = np.array([1.0 / 30.0, 1.0 / 4.0])
            return int(np.argmin(np.sum(((env.actions - [steering, speed]) * scale) ** 2, axis=1)))
        return np.clip(np.array([steering, speed], np.float32), env.action_space.low, env.action_space.high)


def drive_lap(env, driver=None, start_fraction: float = 0.0, seed: int | None = 0, on_step=None) -> dict:
    """Drive one episode with the expert; returns the termination, lap time, steps and the last info."""
    driver = driver or ExpertDriver(env)
    obs, info = env.reset(seed=seed, options={"start_fraction": start_fraction})
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(driver.act(obs))
        total += reward
        steps += 1
        if on_step is not None:
            on_step(obs, reward, info)
        if terminated or truncated:
            return {"termination": info["termination"], "lap_time": info["lap_time"], "steps": steps,
                    "reward": total, "info": info}
