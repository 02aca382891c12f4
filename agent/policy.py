"""The CNN actor-critic over uint8 camera frames, and the deterministic policy that gets exported.

The network (agent/networks.py) is racekit's by default, the same layers as
DeepRacer's shallow preset (conv 32x8 stride 4, 64x4 stride 2, 64x3 stride 1,
dense 512), or one of DeepRacer's three presets; an actor head and a value head
sit on it. Frames come in exactly as the env yields them, (batch, height, width,
channels) uint8, and are scaled inside the network, so the exported model takes
camera bytes.

Continuous actions, distribution "gaussian" (the default): a Gaussian over the
action normalised to [-1, 1] (the mean from the network, one learned log-std per
action dimension); the env receives the sample clipped to [-1, 1] and mapped to
physical units. Clipping hides from the gradient what a sample beyond the
bounds did, and the log-std drifts up while training: at full speed and full
lock, wider noise costs nothing. Distribution "beta": a Beta over each
dimension's [0, 1], stretched to [-1, 1] (both shape parameters from the
network, at least 1 so the density is one-humped): no sample falls outside the
bounds, so nothing is clipped (Chou, Maturana and Scherer, ICML 2017). The
greedy action is the Gaussian's mean or the Beta's mean. Distribution "squashed":
SAC's tanh-squashed Gaussian (the greedy action is tanh of the mean), what an
imported DeepRacer SAC model drives with. Discrete actions: a categorical over
DeepRacer's action list.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.distributions import Beta, Categorical, Normal

from racekit.agent.networks import ACTIVATIONS, Network, as_network, build_trunk
from racekit.agent.observations import split

DISTRIBUTIONS = ("gaussian", "beta", "squashed")  # of continuous actions
LIDAR_HIDDEN = 256
BETA_EDGE = 1e-6  # a Beta sample of exactly 0 or 1 (float32 rounding) has no finite log-density


@dataclass(frozen=True)
class ActionSpec:
    """How network outputs become (steering_deg, speed) commands."""

    low: tuple[float, float] | None = None  # continuous: physical bounds
    high: tuple[float, float] | None = None
    table: tuple[tuple[float, float], ...] | None = None  # discrete: the action list

    @classmethod
    def from_env(cls, env) -> "ActionSpec":
        env = env.unwrapped
        if env.actions is not None:
            return cls(table=tuple(tuple(map(float, a)) for a in env.actions))
        return cls(low=tuple(map(float, env.action_space.low)), high=tuple(map(float, env.action_space.high)))

    @property
    def discrete(self) -> bool:
        return self.table is not None

    def to_env(self, action: np.ndarray) -> np.ndarray:
        """Network action (normalised vector or index) -> what env.step takes."""
        if self.discrete:
            return action.astype(np.int64)
        low, high = np.array(self.low, np.float32), np.array(self.high, np.float32)
        return low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)

    def as_dict(self) -> dict:
        if self.discrete:
            return {"type": "discrete", "actions": [list(a) for a in self.table]}
        return {"type": "continuous", "steering_deg": [self.low[0], self.high[0]],
                "speed_mps": [self.low[1], self.high[1]]}


def layer(module: nn.Module, gain: float = np.sqrt(2)) -> nn.Module:
    """Orthogonal init, as in most PPO implementations that learn from pixels."""
    nn.init.orthogonal_(module.weight, gain)
    nn.init.zeros_(module.bias)
    return module


class ActorCritic(nn.Module):
    """The camera's network (and, with `lidar_size` > 0, DeepRacer's LIDAR embedder: dense 256, 256), joined
    before the actor and critic heads (racekit's network) or, as DeepRacer joins them, before the network's
    middleware (DeepRacer's networks: `Network.lidar_joins`). It takes an observation as the env gives it:
    frames, or a dict of a camera's frames and a LIDAR's vector (agent/observations.py)."""

    def __init__(self, obs_shape: tuple[int, int, int], actions: ActionSpec, distribution: str = "gaussian",
                 network: Network | str | dict = "racekit", lidar_size: int = 0):
        super().__init__()
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
        if distribution != "gaussian" and actions.discrete:
            raise ValueError(f"a {distribution} distribution needs continuous actions, not an action list")
        height, width, channels = obs_shape
        self.obs_shape, self.actions, self.network = tuple(obs_shape), actions, as_network(network)
        self.beta, self.squashed = distribution == "beta", distribution == "squashed"
        self.lidar_size = int(lidar_size)
        joins = self.network.lidar_joins if self.lidar_size and self.network.lidar_joins is not None else None
        camera = self.network if joins is None else replace(self.network, dense=self.network.dense[:joins])
        self.trunk = build_trunk(camera, channels, height, width, layer)
        self.middleware = nn.Sequential()  # DeepRacer's networks with a LIDAR: the dense layers after the join
        hidden = self.network.hidden
        if self.lidar_size:  # deepracer-simapp sensors/utils.py: the LIDAR's embedder, dense 256 then 256
            self.lidar_trunk = nn.Sequential(layer(nn.Linear(self.lidar_size, LIDAR_HIDDEN)), nn.ReLU(),
                                             layer(nn.Linear(LIDAR_HIDDEN, LIDAR_HIDDEN)), nn.ReLU())
            if joins is None:  # racekit's network: the two embeddings go side by side to the heads
                hidden += LIDAR_HIDDEN
            else:
                with torch.no_grad():
                    units = self.trunk(torch.zeros(1, channels, height, width)).shape[1] + LIDAR_HIDDEN
                for out, activation in self.network.dense[joins:]:
                    self.middleware.append(layer(nn.Linear(units, out)))
                    self.middleware.append(ACTIVATIONS[activation]())
                    units = out
        outputs = len(actions.table) if actions.discrete else 2
        # small: start near uniform / zero mean (beta: both shapes near 1.69, the mean mid-range)
        self.actor = layer(nn.Linear(hidden, 2 * outputs if self.beta else outputs), gain=0.01)
        self.critic = layer(nn.Linear(hidden, 1), gain=1.0)
        gaussian = not actions.discrete and not self.beta
        self.log_std = nn.Parameter(torch.zeros(outputs)) if gaussian else None

    def features(self, obs) -> torch.Tensor:
        """uint8 frames (B, H, W, C), or a dict of them and a LIDAR's float (B, N) -> features (B, hidden)."""
        frames, lidar = split(obs)
        return self.joined(frames, lidar)

    def joined(self, frames: torch.Tensor, lidar: torch.Tensor | None = None) -> torch.Tensor:
        x = self.trunk(frames.permute(0, 3, 1, 2).float() / 255.0)
        if not self.lidar_size:
            return x
        if lidar is None:
            raise ValueError(f"this policy reads a LIDAR ({self.lidar_size} values) beside its camera: "
                             f"its observation must be a dict with both")
        return self.middleware(torch.cat([x, self.lidar_trunk(lidar.float())], dim=-1))

    def beta_shapes(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The actor's outputs -> the Beta's (alpha, beta) per action dimension, each at least 1."""
        shapes = nn.functional.softplus(out) + 1.0
        return shapes.chunk(2, dim=-1)

    def distribution(self, hidden: torch.Tensor):
        out = self.actor(hidden)
        if self.actions.discrete:
            return Categorical(logits=out)
        if self.beta:
            return Beta(*self.beta_shapes(out))
        return Normal(out, self.log_std.exp().expand_as(out))

    def greedy(self, hidden: torch.Tensor) -> torch.Tensor:
        """The action raced and exported: logits (discrete), or the mean in [-1, 1] (unclamped, gaussian)."""
        out = self.actor(hidden)
        if self.beta:
            alpha, beta = self.beta_shapes(out)
            return 2.0 * alpha / (alpha + beta) - 1.0
        if self.squashed:
            return torch.tanh(out)
        return out

    def value(self, obs) -> torch.Tensor:
        return self.critic(self.features(obs)).squeeze(-1)

    def act(self, obs, action: torch.Tensor | None = None):
        """Sample (or score) an action: (action, log_prob, entropy, value)."""
        hidden = self.features(obs)
        dist = self.distribution(hidden)
        if self.beta:  # the Beta lives on [0, 1]; actions are stored, like the Gaussian's, on [-1, 1]
            unit = dist.sample() if action is None else (action + 1.0) / 2.0
            unit = unit.clamp(BETA_EDGE, 1.0 - BETA_EDGE)
            action, log_prob, entropy = 2.0 * unit - 1.0, dist.log_prob(unit), dist.entropy()
        elif self.squashed:  # sample before tanh; the density of tanh(u) is the Gaussian's over |d tanh/du|
            raw = dist.sample() if action is None else torch.atanh(action.clamp(-1.0 + BETA_EDGE, 1.0 - BETA_EDGE))
            action = torch.tanh(raw)
            log_prob = dist.log_prob(raw) - torch.log1p(-action.pow(2) + BETA_EDGE)
            entropy = -log_prob  # no closed form: one sample's estimate
        else:
            if action is None:
                action = dist.sample()
            log_prob, entropy = dist.log_prob(action), dist.entropy()
        if not self.actions.discrete:  # independent dimensions: sum over them
            log_prob, entropy = log_prob.sum(-1), entropy.sum(-1)
        return action, log_prob, entropy, self.critic(hidden).squeeze(-1)


class DeterministicPolicy(nn.Module):
    """What gets raced and exported: uint8 frames (B, H, W, C) (and, with a LIDAR, its float (B, N)) ->
    (steering_deg, speed_mps) float32 (B, 2)."""

    def __init__(self, model: ActorCritic):
        super().__init__()
        self.model = model
        spec = model.actions
        if spec.discrete:
            self.register_buffer("table", torch.tensor(spec.table, dtype=torch.float32))
        else:
            self.register_buffer("low", torch.tensor(spec.low, dtype=torch.float32))
            self.register_buffer("high", torch.tensor(spec.high, dtype=torch.float32))

    def forward(self, frames: torch.Tensor, lidar: torch.Tensor | None = None) -> torch.Tensor:
        out = self.model.greedy(self.model.joined(frames, lidar))
        if self.model.actions.discrete:
            return self.table[out.argmax(dim=-1)]
        return self.low + (out.clamp(-1.0, 1.0) + 1.0) * 0.5 * (self.high - self.low)
