"""PPO's hyperparameters and its update, readable top to bottom (after CleanRL's ppo_atari.py)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from racekit.agent.observations import obs_len, obs_map


@dataclass
class PPOConfig:
    """PPO settings. DeepRacer's defaults, for comparison, in the comments.

    The defaults are the recipe that measured best over seeds (bench/recipes.py, docs/performance.md): a Beta
    policy with `racekit tune`'s best learning rate, discount and minibatch, and no entropy bonus. Runs trained
    before them resume with what they were trained with (config.json keeps every setting; see FORMER)."""

    envs: int = 4  # env processes stepping in parallel
    rollout_steps: int = 256  # per env per update; batch = envs * rollout_steps (DeepRacer: 20 episodes)
    minibatch: int = 128  # (DeepRacer: batch size 64)
    epochs: int = 4  # (DeepRacer: 3-10)
    learning_rate: float = 7.3e-4  # (DeepRacer: 3e-4), decayed linearly to 0 over the run
    gamma: float = 0.95  # (DeepRacer: 0.999 or 0.99); 0.95 at 15 Hz looks about 1.3 s ahead
    gae_lambda: float = 0.95  # (DeepRacer: 0.95)
    clip: float = 0.2  # (DeepRacer: 0.2)
    entropy: float = 0.0  # (DeepRacer: 0.01); a Beta's entropy bonus holds it wide, and its mean slow
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True
    anneal_lr: bool = True
    # A lap's finish ends the episode (DeepRacer's rule). With a reward per step that grows with speed, a
    # lap that ends sooner then collects about as much in all as a slow one; bootstrapping from the value
    # past the finish line, as if the race went on, makes the faster lap always worth more.
    bootstrap_at_finish: bool = False
    # continuous actions: "beta" (agent/policy.py: a Beta on each action's range) or "gaussian" (a clipped
    # Gaussian, as DeepRacer's PPO); an action list is always a categorical, whatever this says
    distribution: str = "beta"

    @property
    def batch(self) -> int:
        return self.envs * self.rollout_steps

    def as_dict(self) -> dict:
        return asdict(self)


# The defaults before the measured recipe replaced them (2026-12-06): `racekit train --distribution gaussian
# --learning-rate 3e-4 --discount 0.99 --minibatch 256 --entropy 0.01` trains as racekit did before. A
# config.json written before "distribution" existed gets the Gaussian it was trained with.
FORMER = {"minibatch": 256, "learning_rate": 3e-4, "gamma": 0.99, "entropy": 0.01, "distribution": "gaussian"}


def advantages_and_returns(rewards, values, dones, last_value, last_done, gamma: float, lam: float):
    """Generalised advantage estimation over a (steps, envs) rollout.

    dones[t] = 1 means the episode ended before step t (the obs at t starts a new one).
    Truncated episodes have their bootstrap value folded into `rewards` by the caller.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    gae = torch.zeros_like(last_value)
    for t in reversed(range(steps)):
        next_nonterminal = 1.0 - (last_done if t == steps - 1 else dones[t + 1])
        next_value = last_value if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_value * next_nonterminal - values[t]
        gae = delta + gamma * lam * next_nonterminal * gae
        advantages[t] = gae
    return advantages, advantages + values


def ppo_update(model: nn.Module, optimizer: torch.optim.Optimizer, batch: dict, cfg: PPOConfig,
               generator: torch.Generator) -> dict:
    """Several epochs of clipped-objective minibatch updates; returns the mean of each loss term."""
    size = obs_len(batch["obs"])
    stats = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [], "clip_fraction": []}
    for _ in range(cfg.epochs):
        order = torch.randperm(size, generator=generator)
        for start in range(0, size, cfg.minibatch):
            idx = order[start:start + cfg.minibatch]
            obs = obs_map(lambda x: x[idx], batch["obs"])  # frames, or a dict of them and a LIDAR's
            _, log_prob, entropy, value = model.act(obs, batch["actions"][idx])
            log_ratio = log_prob - batch["log_probs"][idx]
            ratio = log_ratio.exp()

            advantages = batch["advantages"][idx]
            if cfg.normalize_advantages:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

            # clipped surrogate objective: take the pessimistic of the two
            policy_loss = torch.max(-advantages * ratio,
                                    -advantages * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
            value_loss = 0.5 * (value - batch["returns"][idx]).pow(2).mean()
            entropy_bonus = entropy.mean()
            loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy * entropy_bonus

            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()

            with torch.no_grad():
                stats["policy_loss"].append(policy_loss.item())
                stats["value_loss"].append(value_loss.item())
                stats["entropy"].append(entropy_bonus.item())
                stats["approx_kl"].append(((ratio - 1) - log_ratio).mean().item())
                stats["clip_fraction"].append(((ratio - 1).abs() > cfg.clip).float().mean().item())
    return {k: float(np.mean(v)) for k, v in stats.items()}
