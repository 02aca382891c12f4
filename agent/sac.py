"""SAC's hyperparameters, its replay buffer and its update, readable top to bottom (after DrQ and CleanRL's
sac_continuous_action.py).

Soft actor-critic from camera pixels (Haarnoja et al. 2018), with DrQ's image augmentation (Kostrikov,
Yarats and Fergus 2020: random shifts of every sampled frame, the known way to make SAC learn from pixels):

- The policy is agent/policy.py's ActorCritic with the "squashed" distribution: a Gaussian over the
  unbounded action u (the mean from the network, one learned log-std per action dimension, as racekit's
  Gaussian PPO), the action tanh(u). Its greedy action, tanh(mean) mapped to the ranges, is what
  DeterministicPolicy exports, so the model file, races, the car and DeepRacer's SAC export take it
  unchanged. With one of DeepRacer's networks the policy ends in DeepRacer's SAC head (dense 256), as an
  imported DeepRacer SAC model does (`policy_network`). ActorCritic's value head is left unused.
- Twin Q critics share one convolutional encoder, which is the policy's own: as in DrQ, only the critic
  loss trains the convolutions, and the actor sees their output detached. Each Q head is dense layers
  over the encoder's features and the action. A target critic (encoder included) follows by Polyak
  averaging.
- The entropy coefficient alpha is tuned automatically toward a target entropy of -|A| = -2.
- The replay buffer keeps uint8 frames; `ReplayBuffer` says how it avoids storing stacked frames twice.
- With a LIDAR (`lidar_size` > 0) each slot also keeps the step's scan (one vector, never stacked); the Q
  heads read it beside the encoder's features, and the actor through the policy's own LIDAR embedder, joined
  as the policy joins it (so the exported model is the policy's, as without a LIDAR).

The rollout workers (agent/workers.py) collect for SAC as for PPO, `rollout_steps` per env with the
current policy; the learner then adds the transitions to the buffer and makes `replay_ratio` gradient
updates per env step collected (agent/train.py).
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from racekit.agent.networks import NETWORKS, Network, as_network
from racekit.agent.observations import split
from racekit.agent.policy import ActorCritic

# deepracer-simapp's SAC policy head after a preset (agent/deepracer/importer.py reads imported models with it)
SAC_HEAD = ((256, "relu"),)
BUFFER_BYTES = 1.5 * 2**30  # the default buffer's most memory: a SAC run stays under 4 GB (bench/memory.py)
BUFFER_MEMORY_SHARE = 0.2  # and at most this share of the machine's memory
MAX_BUFFER = 1_000_000  # transitions (SAC's usual buffer; DrQ: 100,000)


@dataclass
class SACConfig:
    """SAC settings. Where DeepRacer's SAC has the setting, its default is in the comment (batch size, lr and
    discount as deepracer-for-cloud's hyperparameters.json documents them; SAC alpha from the AWS DeepRacer
    console, not re-checked here); the rest are chosen (DrQ's or CleanRL's value, or "chosen"), to be
    measured over seeds (bench/recipes.py)."""

    algorithm: ClassVar[str] = "sac"  # the rollout collector collects transitions, not returns, for it
    envs: int = 4  # env processes stepping in parallel (as PPO)
    rollout_steps: int = 64  # per env between rounds of updates (chosen: 256 new transitions, then updates)
    replay_ratio: float = 0.25  # gradient updates per env step collected (chosen; DrQ: 1, at 2-8x action repeat)
    batch_size: int = 64  # transitions per update (DeepRacer: batch size 64)
    learning_rate: float = 3e-4  # actor, critics and alpha, constant (DeepRacer: lr 3e-4)
    gamma: float = 0.99  # (DeepRacer: 0.999); 0.99 at 15 Hz looks about 7 s ahead (PPO's until 2026-12-06)
    tau: float = 0.01  # Polyak averaging of the target critic per update (DrQ: 0.01)
    initial_alpha: float = 0.2  # entropy coefficient at the start, then tuned (DeepRacer: SAC alpha 0.2, fixed there)
    target_entropy: float | None = None  # None: -|A| = -2 (SAC's automatic entropy tuning)
    warmup_steps: int = 2_000  # env steps in the buffer before updates start, and after a resume (chosen)
    buffer_size: int | None = None  # transitions; None: sized from the machine's memory when the run starts
    shift_pixels: int = 4  # DrQ's random shift: up to this many pixels each way (DrQ: 4, on 84x84 frames)
    critic_hidden: int = 256  # each Q head: dense critic_hidden, dense critic_hidden, then Q (chosen)
    bootstrap_at_finish: bool = False  # as PPO's: value a finished lap as if the race went on
    distribution: str = "squashed"  # SAC's policy: the tanh-squashed Gaussian (no other)

    def as_dict(self) -> dict:
        return asdict(self)

    def entropy_target(self) -> float:
        return -2.0 if self.target_entropy is None else float(self.target_entropy)


def default_buffer_size(frame_bytes: int, memory_bytes: int | None = None) -> int:
    """Transitions the default buffer holds: BUFFER_BYTES, or BUFFER_MEMORY_SHARE of the machine's memory if
    that is less, over what one transition takes (its frame, action, reward and flags), at most MAX_BUFFER."""
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    budget = min(BUFFER_BYTES, BUFFER_MEMORY_SHARE * memory_bytes)
    return int(min(MAX_BUFFER, budget // (frame_bytes + ReplayBuffer.SLOT_EXTRA_BYTES)))


def policy_network(name: str) -> Network:
    """The SAC policy's network for a run's --network: DeepRacer's presets end in DeepRacer's SAC head."""
    network = as_network(name)
    if network == NETWORKS["racekit"]:
        return network
    return replace(network, dense=network.dense + SAC_HEAD)


# ---------------------------------------------------------------------------------------------------------------
# The replay buffer


class ReplayBuffer:
    """Transitions of each env, kept as that env's stream of single uint8 frames.

    Scheme: per env a ring of slots, one per step, each holding only the newest frame of the step's
    observation (H, W, C), the action taken from it, the reward and whether the transition ended without
    bootstrap. A stacked observation is rebuilt from the last `stack` slots of its episode (the env starts
    an episode with its first frame repeated, so slots before the episode's first repeat that one), and
    the next observation is the next slot's. An episode's final observation (the env reports it when it
    resets in the same step) takes one slot of its own, from which no transition starts. So every frame
    is stored once: neither the stack's older frames nor the next observation are stored again.
    """

    SLOT_EXTRA_BYTES = 2 * 4 + 4 + 1 + 1 + 8  # action, reward, terminal, starts, episode start

    def __init__(self, capacity: int, envs: int, frame_shape: tuple[int, int, int], stack: int, seed: int = 0,
                 lidar_size: int = 0):
        self.envs, self.stack, self.frame_shape = envs, stack, tuple(frame_shape)
        self.slots = max(stack + 2, capacity // envs)  # per env
        n = self.slots
        self.frames = np.zeros((envs, n, *frame_shape), dtype=np.uint8)  # untouched pages cost no memory
        self.lidar = np.zeros((envs, n, lidar_size), dtype=np.float32) if lidar_size else None  # each step's scan
        self.actions = np.zeros((envs, n, 2), dtype=np.float32)
        self.rewards = np.zeros((envs, n), dtype=np.float32)
        self.terminals = np.zeros((envs, n), dtype=bool)  # the transition from this slot has no bootstrap
        self.starts = np.zeros((envs, n), dtype=bool)  # a transition starts here (not an episode's final frame)
        self.episode_start = np.zeros((envs, n), dtype=np.int64)  # absolute slot where its episode began
        self.written = np.zeros(envs, dtype=np.int64)  # slots written per env, in all
        self.current_start = np.zeros(envs, dtype=np.int64)  # absolute slot of each env's current episode
        self.rng = np.random.default_rng(seed)

    @property
    def capacity(self) -> int:
        return self.slots * self.envs

    def __len__(self) -> int:
        """Transitions that can be sampled now."""
        count = 0
        for e in range(self.envs):
            low, high = self._candidates(e)
            count += int(np.count_nonzero(self.starts[e, np.arange(low, high) % self.slots]))
        return count

    def _write(self, env: int, frame, lidar, action, reward, terminal: bool, starts: bool) -> None:
        slot = self.written[env] % self.slots
        self.frames[env, slot] = frame
        if self.lidar is not None:
            self.lidar[env, slot] = lidar
        self.actions[env, slot] = action
        self.rewards[env, slot] = reward
        self.terminals[env, slot] = terminal
        self.starts[env, slot] = starts
        self.episode_start[env, slot] = self.current_start[env]
        self.written[env] += 1

    def add(self, frames, actions, rewards, terminals, ends, final_frames, lidar=None, final_lidar=None) -> None:
        """One rollout, (T, envs, ...) each: the newest frame of each step's observation, the action taken
        from it, the reward, whether the episode ended without bootstrap (terminals) or ended at all (ends),
        and for ended episodes the newest frame of their final observation; with a LIDAR, the scans of both."""
        for t in range(len(frames)):
            for e in range(self.envs):
                self._write(e, frames[t, e], None if lidar is None else lidar[t, e], actions[t, e], rewards[t, e],
                            bool(terminals[t, e]), True)
                if ends[t, e]:
                    self._write(e, final_frames[t, e], None if final_lidar is None else final_lidar[t, e],
                                0.0, 0.0, False, False)
                    self.current_start[e] = self.written[e]  # the next slot begins the next episode

    def _candidates(self, env: int) -> tuple[int, int]:
        """Absolute slots [low, high) a transition may be sampled from: its next slot written, and the
        slots its stack reads still held."""
        written = int(self.written[env])
        oldest = max(0, written - self.slots)
        low = oldest + self.stack - 1 if oldest > 0 else 0
        return low, max(low, written - 1)

    def stacked(self, env: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Observations (B, H, W, C * stack) at absolute slots `index` of envs `env`, rebuilt from the frames."""
        start = self.episode_start[env, index % self.slots]
        parts = [self.frames[env, np.maximum(index - (self.stack - 1) + j, start) % self.slots]
                 for j in range(self.stack)]
        return np.concatenate(parts, axis=-1) if self.stack > 1 else parts[0]

    def sample(self, batch: int) -> dict:
        """`batch` transitions drawn uniformly: obs, actions, rewards, terminals, next_obs (torch tensors), and
        with a LIDAR lidar and next_lidar."""
        ranges = [self._candidates(e) for e in range(self.envs)]
        sizes = np.array([high - low for low, high in ranges], dtype=np.float64)
        if sizes.sum() <= 0:
            raise ValueError("the replay buffer holds no transition yet")
        envs, index = [], []
        while sum(map(len, index)) < batch:  # final-frame slots start no transition: draw again
            e = self.rng.choice(self.envs, size=2 * batch, p=sizes / sizes.sum())
            lows = np.array([ranges[i][0] for i in e])
            i = lows + (self.rng.random(2 * batch) * sizes[e]).astype(np.int64)
            keep = self.starts[e, i % self.slots]
            envs.append(e[keep])
            index.append(i[keep])
        env, index = np.concatenate(envs)[:batch], np.concatenate(index)[:batch]
        slot = index % self.slots
        lidar = {} if self.lidar is None else {"lidar": torch.from_numpy(self.lidar[env, slot]),
                                               "next_lidar": torch.from_numpy(self.lidar[env, (index + 1) % self.slots])}
        return {"obs": torch.from_numpy(self.stacked(env, index)),
                "actions": torch.from_numpy(self.actions[env, slot]),
                "rewards": torch.from_numpy(self.rewards[env, slot]),
                "terminals": torch.from_numpy(self.terminals[env, slot].astype(np.float32)),
                "next_obs": torch.from_numpy(self.stacked(env, index + 1)), **lidar}


def split_rollout(batch: dict, envs: int, channels: int) -> dict:
    """A SAC rollout from the workers (agent.rollout.RolloutCollector, flattened (T * envs, ...)) as
    ReplayBuffer.add takes it: (T, envs, ...), each observation's newest frame only (and its LIDAR scan)."""
    def steps(value):
        value = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        return value.reshape(-1, envs, *value.shape[1:])

    frames, lidar = split(batch["obs"])
    final_frames, final_lidar = split(batch["final_obs"])
    out = {"frames": steps(frames)[..., -channels:], "actions": steps(batch["actions"]),
           "rewards": steps(batch["rewards"]), "terminals": steps(batch["terminals"]), "ends": steps(batch["ends"]),
           "final_frames": steps(final_frames)[..., -channels:]}
    if lidar is not None:
        out.update(lidar=steps(lidar), final_lidar=steps(final_lidar))
    return out


# ---------------------------------------------------------------------------------------------------------------
# DrQ's augmentation


def random_shift(frames: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each frame (B, H, W, C) uint8 moved by up to `pad` pixels each way, its edge pixels repeated into the
    gap: DrQ's pad-by-replication then random crop, done by indexing (exact, and the frames stay uint8)."""
    if pad <= 0:
        return frames
    b, h, w, _ = frames.shape
    shift = torch.randint(-pad, pad + 1, (b, 2), generator=generator)
    rows = (torch.arange(h)[None, :] + shift[:, :1]).clamp(0, h - 1)  # (B, H)
    cols = (torch.arange(w)[None, :] + shift[:, 1:]).clamp(0, w - 1)  # (B, W)
    return frames[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]


# ---------------------------------------------------------------------------------------------------------------
# The networks


def encoder_length(network: Network) -> int:
    """Modules of the policy's trunk that are the convolutional encoder: each conv and its activation, the flatten."""
    return 2 * len(network.convs) + 1


class Critic(nn.Module):
    """Twin Q heads over the shared encoder's features (and a LIDAR's scan beside them) and the action."""

    def __init__(self, encoder: nn.Sequential, features: int, hidden: int):
        super().__init__()
        self.encoder = encoder

        def head():
            return nn.Sequential(nn.Linear(features + 2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 1))

        self.q1, self.q2 = head(), head()

    def encode(self, frames: torch.Tensor, lidar: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 (B, H, W, C) (and a LIDAR's (B, N)) -> the encoder's flat features (then the scan)."""
        x = self.encoder(frames.permute(0, 3, 1, 2).float() / 255.0)
        return x if lidar is None else torch.cat([x, lidar.float()], dim=-1)

    def heads(self, features: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([features, action], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def forward(self, frames: torch.Tensor, action: torch.Tensor,
                lidar: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.encode(frames, lidar), action)


class SACAgent(nn.Module):
    """The policy (an ActorCritic, what is exported), the critic sharing its encoder, the target critic and
    log(alpha)."""

    def __init__(self, policy: ActorCritic, cfg: SACConfig):
        super().__init__()
        if not policy.squashed:
            raise ValueError("SAC's policy has the squashed distribution")
        self.policy = policy
        cut = encoder_length(policy.network)
        self.encoder, self.dense = policy.trunk[:cut], policy.trunk[cut:]  # the same modules, not copies
        height, width, channels = policy.obs_shape
        with torch.no_grad():
            self.camera_features = self.encoder(torch.zeros(1, channels, height, width)).shape[1]
        self.critic = Critic(self.encoder, self.camera_features + policy.lidar_size, cfg.critic_hidden)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.initial_alpha)))

    def actor_parameters(self) -> list[nn.Parameter]:
        """What the actor loss trains: the policy's dense layers (its LIDAR embedder and the layers after the
        join too), its mean and its log-std (not the encoder)."""
        lidar = [*self.policy.lidar_trunk.parameters(), *self.policy.middleware.parameters()] \
            if self.policy.lidar_size else []
        return [*self.dense.parameters(), *lidar, *self.policy.actor.parameters(), self.policy.log_std]

    def mean(self, features: torch.Tensor) -> torch.Tensor:
        """The policy's Gaussian mean (before tanh) from the critic's features: the encoder's, then the scan."""
        hidden = self.dense(features[:, :self.camera_features])
        if self.policy.lidar_size:  # joined as ActorCritic.joined joins them
            lidar = self.policy.lidar_trunk(features[:, self.camera_features:])
            hidden = self.policy.middleware(torch.cat([hidden, lidar], dim=-1))
        return self.policy.actor(hidden)

    def critic_parameters(self) -> list[nn.Parameter]:
        """What the critic loss trains: the encoder and both Q heads."""
        return list(self.critic.parameters())

    def sample(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action from the encoder's features: (tanh(u), log pi(tanh(u))), u ~ N(mean, std).
        The log-density of tanh(u) is the Gaussian's less log(1 - tanh(u)^2), written stably as
        2 (log 2 - u - softplus(-2u))."""
        mean = self.mean(features)
        std = self.policy.log_std.exp().expand_as(mean)
        u = mean + std * torch.randn_like(mean)
        log_prob = torch.distributions.Normal(mean, std).log_prob(u)
        log_prob = log_prob - 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
        return torch.tanh(u), log_prob.sum(-1)

    def sac_state(self) -> dict:
        """Everything but the policy (a checkpoint keeps that as "model", as PPO's does)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(("policy.", "encoder.", "dense."))
                and not k.startswith("critic.encoder.")}

    def load_sac_state(self, state: dict) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        shared = ("policy.", "encoder.", "dense.", "critic.encoder.")
        missing = [k for k in missing if not k.startswith(shared)]
        if missing or unexpected:
            raise RuntimeError(f"SAC state does not fit (missing {missing}, unexpected {unexpected})")


def make_optimizers(agent: SACAgent, cfg: SACConfig) -> dict[str, torch.optim.Optimizer]:
    return {"critic": torch.optim.Adam(agent.critic_parameters(), lr=cfg.learning_rate),
            "actor": torch.optim.Adam(agent.actor_parameters(), lr=cfg.learning_rate),
            "alpha": torch.optim.Adam([agent.log_alpha], lr=cfg.learning_rate)}


# ---------------------------------------------------------------------------------------------------------------
# The update


def critic_target(agent: SACAgent, rewards, terminals, next_obs, gamma: float,
                  next_lidar: torch.Tensor | None = None) -> torch.Tensor:
    """The soft Bellman target: r + gamma (1 - terminal) (min of the target Qs - alpha log pi) at the next
    observation, its action drawn from the current policy."""
    with torch.no_grad():
        next_action, next_log_prob = agent.sample(agent.critic.encode(next_obs, next_lidar))
        next_q = torch.min(*agent.critic_target(next_obs, next_action, next_lidar))
        soft_value = next_q - agent.log_alpha.exp() * next_log_prob
        return rewards + gamma * (1.0 - terminals) * soft_value


def sac_update(agent: SACAgent, optimizers: dict, batch: dict, cfg: SACConfig,
               generator: torch.Generator | None = None) -> dict:
    """One gradient step of the critics, the actor and alpha on a sampled batch, then the target critic's
    Polyak step; returns each loss term."""
    obs = random_shift(batch["obs"], cfg.shift_pixels, generator)  # DrQ: each frame shifted on its own
    next_obs = random_shift(batch["next_obs"], cfg.shift_pixels, generator)

    # critics: both Q heads (and the shared encoder) regress on the soft Bellman target
    lidar, next_lidar = batch.get("lidar"), batch.get("next_lidar")  # the scans are not shifted
    target = critic_target(agent, batch["rewards"], batch["terminals"], next_obs, cfg.gamma, next_lidar)
    q1, q2 = agent.critic(obs, batch["actions"], lidar)
    critic_loss = 0.5 * ((q1 - target).pow(2).mean() + (q2 - target).pow(2).mean())
    optimizers["critic"].zero_grad()
    critic_loss.backward()
    optimizers["critic"].step()

    # actor: maximise min Q - alpha log pi over its own reparameterised actions, on the encoder's features
    # detached (DrQ: only the critic trains the encoder); the Q heads take no step from this loss
    with torch.no_grad():
        features = agent.critic.encode(obs, lidar)
    action, log_prob = agent.sample(features)
    q_new = torch.min(*agent.critic.heads(features, action))
    alpha = agent.log_alpha.exp().detach()
    actor_loss = (alpha * log_prob - q_new).mean()
    optimizers["actor"].zero_grad()
    actor_loss.backward()
    optimizers["actor"].step()

    # alpha: up while the policy's entropy (-log pi) is under the target, down while over it
    alpha_loss = -(agent.log_alpha.exp() * (log_prob.detach() + cfg.entropy_target())).mean()
    optimizers["alpha"].zero_grad()
    alpha_loss.backward()
    optimizers["alpha"].step()

    # target critic: a slow average of the critic
    with torch.no_grad():
        for target_param, param in zip(agent.critic_target.parameters(), agent.critic.parameters()):
            target_param.lerp_(param, cfg.tau)

    return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "alpha_loss": alpha_loss.item(),
            "alpha": agent.log_alpha.exp().item(), "entropy": -log_prob.mean().item(),
            "q_mean": 0.5 * (q1.mean().item() + q2.mean().item())}


def sac_updates(agent: SACAgent, optimizers: dict, buffer: ReplayBuffer, cfg: SACConfig, count: int,
                generator: torch.Generator | None = None) -> dict:
    """`count` updates on batches drawn from the buffer; the mean of each loss term (empty if none)."""
    stats: dict[str, list[float]] = {}
    for _ in range(count):
        for key, value in sac_update(agent, optimizers, buffer.sample(cfg.batch_size), cfg, generator).items():
            stats.setdefault(key, []).append(value)
    return {key: float(np.mean(values)) for key, values in stats.items()}


# ---------------------------------------------------------------------------------------------------------------
# The learner as the training loop (agent/train.py) uses it


class SACTraining:
    """A SAC run's learner (agent/sac.py) as the training loop uses it: the agent around the policy, its
    optimizers, the replay buffer, and how many updates are due."""

    def __init__(self, model: ActorCritic, cfg, obs_shape: tuple, generator: torch.Generator):
        """cfg: the run's agent.train.RunConfig (read, not imported: train imports this module)."""
        self.cfg, self.generator = cfg.sac, generator
        self.agent = SACAgent(model, cfg.sac)
        self.optimizers = make_optimizers(self.agent, cfg.sac)
        height, width, channels = obs_shape
        self.channels = channels // cfg.frame_stack
        self.buffer = ReplayBuffer(cfg.sac.buffer_size, cfg.sac.envs, (height, width, self.channels),
                                   cfg.frame_stack, seed=cfg.seed, lidar_size=model.lidar_size)
        self.updates, self.due, self.update_seconds, self.session_updates = 0, 0.0, 0.0, 0
        self.frame_bytes = height * width * self.channels + 4 * model.lidar_size

    def describe(self) -> str:
        gb = self.buffer.capacity * (self.frame_bytes + self.buffer.SLOT_EXTRA_BYTES) / 1e9
        return (f"SAC: a replay buffer of {self.buffer.capacity:,} transitions (up to {gb:.2f} GB), "
                f"{self.cfg.replay_ratio:g} updates of {self.cfg.batch_size} per env step once it holds "
                f"{self.cfg.warmup_steps:,}")

    def learn(self, batch: dict) -> dict:
        self.buffer.add(**split_rollout(batch, self.cfg.envs, self.channels))
        if len(self.buffer) < max(1, self.cfg.warmup_steps):
            return {}
        self.due += self.cfg.replay_ratio * len(batch["obs"])
        count, self.due = int(self.due), self.due - int(self.due)
        t0 = time.monotonic()
        losses = sac_updates(self.agent, self.optimizers, self.buffer, self.cfg, count, self.generator)
        self.update_seconds += time.monotonic() - t0
        self.updates += count
        self.session_updates += count
        return losses

    def progress(self, global_step: int) -> dict:
        """The metrics row's SAC columns: updates so far, their rate this session, the replay ratio so far."""
        rate = round(self.session_updates / self.update_seconds, 2) if self.update_seconds else ""
        return {"gradient_updates": self.updates, "buffer": len(self.buffer), "updates_per_second": rate,
                "replay_ratio": round(self.updates / global_step, 4) if global_step else 0.0}

    def state(self) -> dict:
        return {"optimizer": {name: opt.state_dict() for name, opt in self.optimizers.items()},
                "sac": self.agent.sac_state(), "gradient_updates": self.updates}

    def load(self, state: dict) -> None:
        self.agent.load_sac_state(state["sac"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizer"][name])
        self.updates = int(state.get("gradient_updates", 0))
