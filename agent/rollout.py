"""Collecting experience: env processes stepping in parallel, and one rollout's buffers.

Gymnasium's AsyncVectorEnv runs each env in its own process, so both cores
simulate while the learner waits as little as possible; observations come back
through shared memory. Episodes reset in the same step they end (SAME_STEP), so
every stored transition is real, and a truncated episode's last observation is
still at hand to bootstrap its value.

For SAC (a cfg whose `algorithm` is "sac", agent/sac.py) the collector hands back transitions for the
replay buffer instead of returns: each step's observation, action, reward as the env gave it, whether
the episode ended there with no bootstrap (`terminals`) or ended at all (`ends`), and ended episodes'
final observations (`final_obs`); the learner's critics do the bootstrapping.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import gymnasium as gym
import numpy as np
import torch

from racekit.agent.observations import as_tensors, obs_assign, obs_map, obs_zeros
from racekit.agent.policy import ActionSpec, ActorCritic
from racekit.agent.ppo import PPOConfig, advantages_and_returns


def make_env(track: str, reward: str | None, env_kwargs: dict, index: int = 0, schedule=None,
             start_episode: int = 0):
    """Runs in the env's worker process: env `index` of the run, following `schedule` (an
    agent.schedule.TrackSchedule; None = `track` alone, forwards) from its episode `start_episode`."""
    import signal

    from racekit.agent.schedule import TrackRotation, TrackSchedule

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle: it saves, then stops us

    schedule = schedule or TrackSchedule((track,))
    return TrackRotation(schedule, index, start_episode, reward, env_kwargs)


def make_vector_env(track: str, reward: str | None, envs: int, env_kwargs: dict, schedule=None,
                    start_episodes=None) -> gym.vector.VectorEnv:
    """`envs` env processes; with a schedule, env i drives its tracks from episode start_episodes[i]."""
    kwargs = dict(env_kwargs, info_params=False)
    starts = list(start_episodes) if start_episodes is not None else [0] * envs
    return gym.vector.AsyncVectorEnv([partial(make_env, track, reward, kwargs, i, schedule, starts[i])
                                      for i in range(envs)],
                                     autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def flat(x: torch.Tensor) -> torch.Tensor:
    """(T, N, ...) -> (T * N, ...)"""
    return x.flatten(0, 1)


@dataclass
class EpisodeStats:
    """What finished episodes looked like during one rollout."""

    returns: list[float] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    laps: int = 0
    lap_times: list[float] = field(default_factory=list)
    # one per finished episode: env, its episode number there, track, reversed, rollout step t, ...
    records: list[dict] = field(default_factory=list)


class RolloutCollector:
    """Steps the vector env with the policy; `trace` (an agent.simtrace.TrainingTrace, or None) sees every
    reset and step, as the env reported them (rewards before the truncation bootstrap)."""

    def __init__(self, envs: gym.vector.VectorEnv, model: ActorCritic, cfg: PPOConfig, seed: int, trace=None,
                 start_episodes=None):
        self.envs, self.model, self.cfg, self.trace = envs, model, cfg, trace
        self.spec: ActionSpec = model.actions
        n, t = cfg.envs, cfg.rollout_steps
        self.obs = obs_zeros(envs.single_observation_space, t, n)  # frames, or a dict of them and a LIDAR's
        action_shape = () if self.spec.discrete else (2,)
        self.actions = torch.zeros((t, n, *action_shape), dtype=torch.long if self.spec.discrete else torch.float32)
        self.log_probs, self.rewards = torch.zeros((t, n)), torch.zeros((t, n))
        self.dones, self.values = torch.zeros((t, n)), torch.zeros((t, n))
        self.sac = getattr(cfg, "algorithm", "ppo") == "sac"
        if self.sac:  # transitions for the replay buffer (agent/sac.py)
            self.terminals, self.ends = torch.zeros((t, n)), torch.zeros((t, n))
            self.final_obs = obs_zeros(envs.single_observation_space, t, n)
        next_obs, info = envs.reset(seed=seed)
        if trace is not None:
            trace.on_reset(info)
        self.next_obs = as_tensors(next_obs)
        self.next_done = torch.zeros(n)
        self.episode_return, self.episode_length = np.zeros(n), np.zeros(n, dtype=int)
        # episodes each env has finished (a checkpoint keeps them: the track schedule goes on from there)
        self.env_episodes = np.array(start_episodes if start_episodes is not None else [0] * n, dtype=np.int64)
        self.track = list(info.get("track", [None] * n))
        self.reversed = [bool(r) for r in info.get("reversed", [False] * n)]

    @torch.no_grad()
    def collect(self) -> tuple[dict, EpisodeStats]:
        stats = EpisodeStats()
        gamma = self.cfg.gamma
        for t in range(self.cfg.rollout_steps):
            obs_assign(self.obs, t, self.next_obs)
            self.dones[t] = self.next_done
            action, log_prob, _, value = self.model.act(self.next_obs)
            self.actions[t], self.log_probs[t], self.values[t] = action, log_prob, value
            env_action = self.spec.to_env(action.numpy())
            next_obs, env_reward, terminated, truncated, info = self.envs.step(env_action)
            if self.trace is not None:
                self.trace.on_step(env_action, env_reward, terminated, truncated, info)
            reward = env_reward.astype(np.float32)
            self.episode_return += reward
            self.episode_length += 1
            done = terminated | truncated
            if self.sac:
                self.terminals[t].zero_(), self.ends[t].zero_()
            if done.any():
                final = info["final_info"]
                for i in np.flatnonzero(done):
                    cut_short = truncated[i] and not terminated[i]
                    goes_on = self.cfg.bootstrap_at_finish and final["termination"][i] == "lap_complete"
                    if self.sac:  # the critics bootstrap from the final observation unless racing ended
                        self.ends[t, i], self.terminals[t, i] = 1.0, float(not (cut_short or goes_on))
                        obs_assign(self.final_obs, (t, i), as_tensors(info["final_obs"][i]))
                    elif cut_short or goes_on:  # not the end of racing: bootstrap from the value after it
                        last = obs_map(lambda x: x[None], as_tensors(info["final_obs"][i]))
                        reward[i] += gamma * self.model.value(last).item()
                    stats.returns.append(float(self.episode_return[i]))
                    stats.lengths.append(int(self.episode_length[i]))
                    stats.progress.append(float(final["progress"][i]))
                    if final["termination"][i] == "lap_complete":
                        stats.laps += 1
                        stats.lap_times.append(float(final["lap_time"][i]))
                    stats.records.append({
                        "t": t, "env": int(i), "episode": int(self.env_episodes[i]), "track": self.track[i],
                        "reversed": self.reversed[i], "steps": int(self.episode_length[i]),
                        "return": float(self.episode_return[i]), "progress": float(final["progress"][i]),
                        "termination": final["termination"][i] or "max_steps"})
                    self.env_episodes[i] += 1
                    if "track" in info:  # the next episode's, from its reset
                        self.track[i], self.reversed[i] = info["track"][i], bool(info["reversed"][i])
                self.episode_return[done], self.episode_length[done] = 0.0, 0
            self.rewards[t] = torch.from_numpy(reward)
            self.next_obs = as_tensors(next_obs)
            self.next_done = torch.from_numpy(done.astype(np.float32))

        if self.sac:
            batch = {"obs": obs_map(flat, self.obs), "actions": self.actions.flatten(0, 1),
                     "rewards": self.rewards.flatten(), "terminals": self.terminals.flatten(),
                     "ends": self.ends.flatten(), "final_obs": obs_map(flat, self.final_obs)}
            return batch, stats
        last_value = self.model.value(self.next_obs)
        advantages, returns = advantages_and_returns(self.rewards, self.values, self.dones, last_value,
                                                     self.next_done, gamma, self.cfg.gae_lambda)
        batch = {"obs": obs_map(flat, self.obs), "actions": self.actions.flatten(0, 1),
                 "log_probs": self.log_probs.flatten(), "advantages": advantages.flatten(),
                 "returns": returns.flatten()}
        return batch, stats
