"""Training env steps/s, learning included: the local trainer (agent/workers.py) beside 1, 2 and 4 Ray rollout actors.

Each setting is a real `train()` run (the same PPO update, checkpoints, metrics) of the same batch (4 envs x
256 steps = 1024 per update; with Ray the 4 envs are split between the actors), without evaluations or
sim-traces; the rate is taken from metrics.csv over the updates after the first (the first one warms up:
process and actor start-up, env builds). One Ray instance on this machine serves all the Ray settings.
The bar (issue 12): Ray with 2 actors at least 80% of the local trainer on this machine.

    .venv/bin/python bench/scaling.py [--updates 4] [--rounds 2] [--actors 1 2 4]
    .venv/bin/python bench/scaling.py --figures   # the inputs of docs/scaling.md's model (a GPU too, if any)
"""
from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from racekit.agent.ppo import PPOConfig
from racekit.agent.train import RunConfig, train

REWARD = os.path.join(os.path.dirname(__file__), "..", "examples", "rewards", "speed_along_track.py")


def run(folder: Path, updates: int, ray=None) -> float:
    cfg = RunConfig(reward=REWARD, steps=1024 * (updates + 1), eval_every=10**9, eval_laps=1, simtrace=False,
                    ppo=PPOConfig(envs=4, rollout_steps=256))
    train(folder, cfg,  # its final evaluation comes after the last measured update
          quiet=True, **({"ray": ray} if ray else {}))
    with (folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    steps = int(last["global_step"]) - int(first["global_step"])
    return steps / (float(last["wall_seconds"]) - float(first["wall_seconds"]))


def figures() -> None:
    """Env step cost, observation bytes, weight broadcast size, learner time per sample (CPU; GPU when present)."""
    import io
    import pickle

    import torch

    from racekit.agent.policy import ActorCritic
    from racekit.agent.ppo import ppo_update
    from racekit.agent.rollout import make_env

    cfg = RunConfig(reward=REWARD)
    torch.set_num_threads(1)
    env = make_env(cfg.track, cfg.reward, dict(cfg.env_kwargs(), info_params=False), 0)
    obs, _ = env.reset(seed=0)
    print(f"observation {tuple(obs.shape)} {obs.dtype}: {obs.nbytes} bytes")
    model = ActorCritic(obs.shape, cfg.action_spec())
    n, t = 300, time.perf_counter()
    for _ in range(n):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    step = (time.perf_counter() - t) / n
    env.close()
    print(f"env step, one core (physics, camera, reward; random actions, resets included): {step * 1e3:.2f} ms")
    frames = torch.from_numpy(obs)[None]
    with torch.no_grad():
        for _ in range(20):
            model.act(frames)
        t = time.perf_counter()
        for _ in range(200):
            model.act(frames)
    print(f"policy forward, batch 1, one thread: {(time.perf_counter() - t) / 200 * 1e3:.2f} ms")
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    print(f"weights: {sum(v.size for v in state.values())} parameters; broadcast per update "
          f"{len(pickle.dumps(state)) / 1e6:.2f} MB (pickled numpy state_dict; torch.save {buffer.tell() / 1e6:.2f} MB)")
    devices = [("cpu", threads) for threads in sorted({1, os.cpu_count() or 1})]
    if torch.cuda.is_available():
        devices.append(("cuda", 0))
    for device, threads in devices:
        if threads:
            torch.set_num_threads(threads)
        ppo, size = PPOConfig(), 1024
        net = ActorCritic(obs.shape, cfg.action_spec()).to(device)
        batch = {"obs": torch.randint(0, 255, (size, *obs.shape), dtype=torch.uint8, device=device),
                 "actions": torch.zeros(size, 2, device=device), "log_probs": torch.zeros(size, device=device),
                 "advantages": torch.randn(size, device=device), "returns": torch.randn(size, device=device)}
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-4, eps=1e-5)
        generator = torch.Generator().manual_seed(0)
        ppo_update(net, optimizer, batch, PPOConfig(epochs=1), generator)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        ppo_update(net, optimizer, batch, ppo, generator)
        if device == "cuda":
            torch.cuda.synchronize()
        took = time.perf_counter() - t
        where = f"{threads} thread(s)" if threads else torch.cuda.get_device_name()
        print(f"learner on {device} ({where}): {size} samples x {ppo.epochs} epochs, minibatch {ppo.minibatch}: "
              f"{took:.2f} s = {took / (size * ppo.epochs) * 1e3:.3f} ms per sample-epoch "
              f"({size / took:.0f} new samples/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=4, help="measured updates per setting (after a warm-up one)")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=2, help="runs of every setting, interleaved")
    parser.add_argument("--figures", action="store_true", help="print the scaling model's inputs instead")
    args = parser.parse_args()
    if args.figures:
        figures()
        return
    import ray

    from racekit.agent.distributed import RayOptions

    print(f"{os.cpu_count()} cores; 4 envs x 256 steps = 1024 env steps per update, 4 epochs; "
          f"{args.updates} measured updates per run; {args.rounds} rounds, the order reversed every other "
          f"round (the machine is shared: its load changes under the runs)", flush=True)
    settings = ["local"] + list(args.actors)
    rates = {k: [] for k in settings}
    with tempfile.TemporaryDirectory() as tmp:
        ray.init(address="local", num_cpus=max(args.actors), include_dashboard=False, log_to_driver=False,
                 logging_level="warning")
        try:
            for r in range(args.rounds):
                for k in (settings if r % 2 == 0 else settings[::-1]):
                    folder = Path(tmp) / f"{k}-{r}"
                    t0 = time.monotonic()
                    if k == "local":  # the Ray instance sits idle meanwhile
                        rates[k].append(run(folder, args.updates))
                        name = "local, 2 worker processes x 2 envs"
                    else:
                        rates[k].append(run(folder, args.updates, RayOptions(address="auto", actors=k)))
                        name = f"ray, {k} actor(s) x {4 // k} envs"
                    print(f"round {r + 1}: {name:<40} {rates[k][-1]:>7.1f} steps/s ({time.monotonic() - t0:.0f} s, "
                          f"load average {os.getloadavg()[0]:.1f})", flush=True)
        finally:
            ray.shutdown()
    median = {k: float(np.median(v)) for k, v in rates.items()}
    print("median steps/s: " + ", ".join(f"{k if k == 'local' else f'{k} actor(s)'} {median[k]:.1f}"
                                          for k in settings))
    print("ratios to local (medians): " + ", ".join(f"{n} actor(s) {median[n] / median['local']:.2f}"
                                                    for n in args.actors))
    if 2 in median:
        ratio = median[2] / median["local"]
        print(f"bar (ray 2 actors >= 0.80 x local): {'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.2f})")


if __name__ == "__main__":
    main()
