"""Which camera resolution trains fastest? Env steps/s and CNN update samples/s per resolution, one core.

For each candidate size it measures (1) env steps/s of TimeTrial-v0 with the
expert driving, and (2) forward+backward samples/s of DeepRacer's CNN (conv
32x8s4, 64x4s2, 64x3s1, dense 512) on a batch of 64 frames. A PPO sample costs
one env step and, over 4 epochs, four CNN passes; the last column is that
combined rate. The default resolution is the fastest one that still shows the
track's lines (see the README).

    .venv/bin/python bench/camera_resolution.py [--seconds 5]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from racekit.sim.env import TimeTrialEnv  # noqa: E402
from racekit.sim.expert import ExpertDriver  # noqa: E402

SIZES = [(64, 48), (80, 60), (96, 72), (128, 96), (160, 120)]
EPOCHS = 4


def env_rate(width: int, height: int, seconds: float) -> float:
    env = TimeTrialEnv(camera_width=width, camera_height=height)
    driver = ExpertDriver(env)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(driver.act())
        steps += 1
        if terminated or truncated:
            env.reset()
    env.close()
    return steps / (time.perf_counter() - start)


def deepracer_cnn(width: int, height: int, channels: int = 1) -> nn.Module:
    conv = nn.Sequential(nn.Conv2d(channels, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, 1), nn.ReLU(), nn.Flatten())
    features = conv(torch.zeros(1, channels, height, width)).shape[1]
    return nn.Sequential(conv, nn.Linear(features, 512), nn.ReLU(), nn.Linear(512, 3))


def learner_rate(width: int, height: int, seconds: float) -> float:
    net = deepracer_cnn(width, height)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)
    batch = torch.rand(64, 1, height, width)
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        loss = net(batch).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        samples += len(batch)
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'camera':>9} {'env steps/s':>12} {'CNN samples/s':>14} {'PPO samples/s':>14}")
    for width, height in SIZES:
        env = env_rate(width, height, args.seconds)
        learn = learner_rate(width, height, args.seconds)
        combined = 1.0 / (1.0 / env + EPOCHS / learn)
        print(f"{width:>4}x{height:<4} {env:12.0f} {learn:14.0f} {combined:14.0f}", flush=True)


if __name__ == "__main__":
    main()
