"""Behaviour cloning: a pixel policy that copies the state-based expert driver, in seconds.

PPO takes minutes to lap a track; tests and the car need a model that laps now.
`imitate` drives the expert (sim.expert.ExpertDriver, which reads the true pose)
with noise injected into the executed actions, records each camera frame with
the expert's *intended* action, and fits the actor of an ActorCritic to those
labels. The noise puts the car off the centre line and at odd headings, so the
data also shows how to recover (DART, Laskey et al. 2017), which plain cloning
of clean laps lacks. The result is saved as a run directory, the same files
`racekit train` writes, so `racekit evaluate`, `racekit export` and even
`racekit train --resume` (PPO fine-tuning) take it.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from racekit.agent.checkpoint import save_checkpoint
from racekit.agent.export import racekit_version
from racekit.agent.policy import ActionSpec, ActorCritic
from racekit.agent.train import RunConfig


def collect_expert_data(cfg: RunConfig, max_speed: float, samples: int, seed: int = 0,
                        steering_noise_deg: float = 8.0, speed_noise: float = 0.2):
    """Frames from `samples` steps of the noisy expert on cfg.track -> (frames uint8 (N, H, W, C), labels).

    Labels are what the network's actor should output: the expert's action normalised to [-1, 1]
    as ActionSpec.to_env maps it back (continuous), or the expert's action index (discrete).
    """
    from racekit.sim.env import TimeTrialEnv
    from racekit.sim.expert import ExpertDriver

    rng = np.random.default_rng(seed)
    env = TimeTrialEnv(track=cfg.track, **cfg.env_kwargs())
    spec = cfg.action_spec()
    frames = np.empty((samples, *env.observation_space.shape), dtype=np.uint8)
    labels = np.empty((samples,) if spec.discrete else (samples, 2), dtype=np.int64 if spec.discrete else np.float32)
    try:
        expert = ExpertDriver(env, max_speed=max_speed)
        obs, _ = env.reset(seed=seed, options={"start_fraction": rng.uniform()})
        offset = np.zeros(2)
        for i in range(samples):
            action = expert.act(obs)
            frames[i], labels[i] = obs, (action if spec.discrete else normalise(action, spec))
            # a slowly drifting offset (AR(1), stationary std = the noise levels), not white noise,
            # so the car really wanders off the line and the frames show how to come back
            offset = 0.8 * offset + 0.6 * rng.normal(0.0, 1.0, 2) * [steering_noise_deg, speed_noise]
            if spec.discrete:
                executed = action if rng.uniform() > 0.3 else int(rng.integers(len(spec.table)))
            else:
                executed = np.clip(action + offset, env.action_space.low, env.action_space.high).astype(np.float32)
            obs, _, terminated, truncated, _ = env.step(executed)
            if terminated or truncated:
                obs, _ = env.reset(options={"start_fraction": rng.uniform()})
    finally:
        env.close()
    return frames, labels


def normalise(action: np.ndarray, spec: ActionSpec) -> np.ndarray:
    """Physical (steering_deg, speed) -> [-1, 1]: the inverse of ActionSpec.to_env."""
    low, high = np.array(spec.low, np.float32), np.array(spec.high, np.float32)
    return np.clip(2.0 * (np.asarray(action, np.float32) - low) / (high - low) - 1.0, -1.0, 1.0)


def fit_actor(model: ActorCritic, frames: np.ndarray, labels: np.ndarray, epochs: int = 8, batch: int = 128,
              learning_rate: float = 1e-3, seed: int = 0) -> float:
    """Supervised fit of the actor (mean for continuous, logits for discrete); returns the last epoch's loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam([p for name, p in model.named_parameters() if not name.startswith("critic")],
                                 lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss() if model.actions.discrete else nn.MSELoss()
    x, y = torch.from_numpy(frames), torch.from_numpy(labels)
    model.train()
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=generator), 0.0
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            loss = loss_fn(model.greedy(model.features(x[idx])), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
    return total / len(x)


def imitate(out_dir: str | Path, cfg: RunConfig | None = None, max_speed: float = 2.0, samples: int = 4000,
            epochs: int = 8, seed: int = 0) -> Path:
    """Clone the expert (speed capped at `max_speed` m/s) on cfg.track into a run directory at `out_dir`.

    cfg gives the track, camera and action space (default: RunConfig() on the oval). The run holds
    config.json and checkpoints/best.pt == last.pt with global_step 0 (no PPO steps yet) and an
    "imitation" entry saying how it was made. Repeatable for a seed (same machine, same torch threads).
    """
    # steps 0: `racekit train --out DIR --resume --steps N` fine-tunes the clone with PPO from here
    cfg = replace(cfg or RunConfig(track="oval"), steps=0)
    out = Path(out_dir)
    torch.manual_seed(seed)
    started = time.monotonic()
    frames, labels = collect_expert_data(cfg, max_speed, samples, seed)
    spec = cfg.action_spec()
    model = ActorCritic(frames.shape[1:], spec, distribution=cfg.distribution(), network=cfg.network)
    loss = fit_actor(model, frames, labels, epochs=epochs, seed=seed)
    model.eval()

    info = {"expert_max_speed": max_speed, "samples": samples, "epochs": epochs, "seed": seed, "loss": loss,
            "seconds": round(time.monotonic() - started, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({
        "run": cfg.to_json(), "reward_sha256": None, "racekit_version": racekit_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "imitation": info}, indent=2))
    # a fresh PPO optimizer, not the cloning one, so a resumed PPO run starts with its own settings
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.ppo.learning_rate, eps=1e-5)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "global_step": 0, "update": 0,
             "best": None, "torch_rng": torch.get_rng_state(),
             "generator": torch.Generator().manual_seed(seed).get_state(),
             "run": cfg.to_json(), "obs_shape": list(frames.shape[1:]), "actions": spec.as_dict(),
             "camera": cfg.camera(), "reward_sha256": None, "imitation": info}
    for name in ("last", "best"):
        save_checkpoint(out / "checkpoints" / f"{name}.pt", state)
    return out
