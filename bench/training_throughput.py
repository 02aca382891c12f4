"""Where a training update's time goes, and the thread setting for the learner.

One PPO iteration is a rollout (env processes step while the learner picks each
step's actions, one thread) then an update (4 epochs over the batch). This
measures both, with the update on 1 thread and on every core, and with 2 and 4
env processes, on the default track and camera, and prints env steps/s of the
whole iteration for each setting: the learner's thread count in agent/train.py
is the measured best.

    .venv/bin/python bench/training_throughput.py [--iterations 3]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from racekit.agent.policy import ActorCritic
from racekit.agent.ppo import PPOConfig, ppo_update
from racekit.agent.rollout import RolloutCollector, make_vector_env
from racekit.agent.train import RunConfig

REWARD = os.path.join(os.path.dirname(__file__), "..", "examples", "rewards", "speed_along_track.py")


def measure(envs_count: int, update_threads: int, iterations: int) -> dict:
    cfg = RunConfig(reward=REWARD, ppo=PPOConfig(envs=envs_count, rollout_steps=1024 // envs_count))
    envs = make_vector_env(cfg.track, cfg.reward, cfg.ppo.envs, cfg.env_kwargs())
    try:
        model = ActorCritic(envs.single_observation_space.shape, cfg.action_spec())
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.ppo.learning_rate, eps=1e-5)
        generator = torch.Generator().manual_seed(0)
        collector = RolloutCollector(envs, model, cfg.ppo, seed=0)
        collect = update = 0.0
        for i in range(iterations + 1):  # the first one warms up
            torch.set_num_threads(1)
            t0 = time.perf_counter()
            batch, _ = collector.collect()
            t1 = time.perf_counter()
            torch.set_num_threads(update_threads)
            ppo_update(model, optimizer, batch, cfg.ppo, generator)
            t2 = time.perf_counter()
            if i:
                collect, update = collect + t1 - t0, update + t2 - t1
    finally:
        envs.close()
    steps = cfg.ppo.batch * iterations
    return {"collect": steps / collect, "update": steps / update, "total": steps / (collect + update)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3, help="measured PPO iterations per setting")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; batch 1024 env steps per iteration, 4 epochs")
    print(f"{'env processes':>13} {'update threads':>14} {'rollout steps/s':>15} {'update samples/s':>16} "
          f"{'iteration steps/s':>17}")
    results = {}
    for envs_count in (4, 2):
        for threads in sorted({1, cores}):
            r = measure(envs_count, threads, args.iterations)
            results[(envs_count, threads)] = r
            print(f"{envs_count:>13} {threads:>14} {r['collect']:>15.0f} {r['update']:>16.0f} {r['total']:>17.0f}",
                  flush=True)
    best = max(results, key=lambda k: results[k]["total"])
    print(f"fastest: {best[0]} env processes, update on {best[1]} thread(s): {results[best]['total']:.0f} env steps/s")


if __name__ == "__main__":
    main()
