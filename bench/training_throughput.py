"""Where a training update's time goes: the rollout, by how it is collected, and the update, by threads.

One PPO iteration is a rollout of 4 envs x 256 steps, then an update (4 epochs over the 1,024 steps).
The rollout is collected two ways, in the same run:
- `K env(s)/worker`: what agent/train.py runs (agent/workers.py): 4/K worker processes, each stepping K envs
  with its own copy of the policy, sending back one block per rollout;
- `AsyncVectorEnv`: the earlier design, one process per env and the policy in the trainer, one round
  trip per step (gymnasium's AsyncVectorEnv, observations through shared memory).
The update runs on 1 thread and on every core. Prints env steps/s of the rollout, samples/s of the
update and env steps/s of the whole iteration for each, and the ratio of the fastest to the earlier design.

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
from racekit.agent.workers import WorkerRollouts

REWARD = os.path.join(os.path.dirname(__file__), "..", "examples", "rewards", "speed_along_track.py")
ENVS = 4


def collector_for(cfg: RunConfig, how: str):
    """(collector, envs) for `how`: "async" or "workers K"."""
    if how == "async":
        envs = make_vector_env(cfg.track, cfg.reward, ENVS, cfg.env_kwargs())
        model = ActorCritic(envs.single_observation_space.shape, cfg.action_spec())
        return RolloutCollector(envs, model, cfg.ppo, seed=0), envs, model
    envs = WorkerRollouts(cfg, [0] * ENVS, cfg.action_spec(), seed=0, envs_per_worker=int(how.split()[1]))
    model = ActorCritic(envs.single_observation_space.shape, cfg.action_spec())
    return envs.bind(model), envs, model


def measure(how: str, update_threads: int, iterations: int) -> dict:
    cfg = RunConfig(reward=REWARD, ppo=PPOConfig(envs=ENVS, rollout_steps=1024 // ENVS))
    torch.set_num_threads(1)
    collector, envs, model = collector_for(cfg, how)
    try:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.ppo.learning_rate, eps=1e-5)
        generator = torch.Generator().manual_seed(0)
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


def label(how: str) -> str:
    return "AsyncVectorEnv" if how == "async" else f"{how.split()[1]} env(s)/worker"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3, help="measured PPO iterations per setting")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; {ENVS} envs, batch 1024 env steps per iteration, 4 epochs; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'rollout':>16} {'update threads':>14} {'rollout steps/s':>15} {'update samples/s':>16} "
          f"{'iteration steps/s':>17}")
    results = {}
    for how in ("workers 2", "workers 1", "workers 4", "async"):
        for threads in sorted({1, cores}):
            r = measure(how, threads, args.iterations)
            results[(how, threads)] = r
            print(f"{label(how):>16} {threads:>14} {r['collect']:>15.0f} {r['update']:>16.0f} {r['total']:>17.0f}",
                  flush=True)
    best = max(results, key=lambda k: results[k]["total"])
    old = max((k for k in results if k[0] == "async"), key=lambda k: results[k]["total"])
    print(f"fastest: {label(best[0])}, update on {best[1]} thread(s): {results[best]['total']:.0f} "
          f"env steps/s, {results[best]['total'] / results[old]['total']:.2f}x the AsyncVectorEnv design's best "
          f"({results[old]['total']:.0f})")


if __name__ == "__main__":
    main()
