"""Rollout workers: processes that each step a share of the run's envs with their own copy of the policy.

A local run's rollouts. Each worker process holds K envs in a SyncVectorEnv and a CPU copy of the
policy (torch on one thread), and collects a whole rollout on its own: per update the driver sends the
policy's weights once, every worker steps its envs and picks their actions, and sends back its (T, K)
block of the batch (agent.rollout.RolloutCollector's, GAE included). The driver stacks the blocks along
the env axis. Stepping and acting in the same process keeps both cores busy with no per-step round trip;
an AsyncVectorEnv with one process per env and the policy in the driver spent half its time passing
actions and observations (bench/training_throughput.py measures both).

Env i of the run is in worker i // K and gets the same seed and track schedule as it would anywhere
else; each worker's action sampling is seeded from the run's seed, so a run repeats exactly for a given
`envs_per_worker`, on any machine.

DeepRacer sim-traces: a worker's collector records its trace calls (a `TraceTap`), and the driver
replays them, worker by worker, into the run's agent.simtrace.TrainingTrace, for the worker's envs.

`RolloutWorker` is also what agent/distributed.py runs in each Ray actor.
"""
from __future__ import annotations

import multiprocessing
import signal
import time
from dataclasses import replace

import numpy as np
import torch

from racekit.agent.errors import RunError
from racekit.agent.observations import model_inputs, obs_map
from racekit.agent.ppo import PPOConfig
from racekit.agent.rollout import EpisodeStats

TRACE_KEYS = ("trace", "progress", "track", "reversed")  # what agent.simtrace.TrainingTrace reads of an info


class TraceTap:
    """Stands for a TrainingTrace in a worker: keeps each call's arguments, reduced to what the trace reads."""

    def __init__(self, envs: int):
        self.envs, self.events = envs, []

    def _compact(self, info: dict) -> dict:
        compact = {key: list(info[key]) if key in info else [None] * self.envs for key in TRACE_KEYS}
        if "final_info" in info:
            compact["final_info"] = self._compact(info["final_info"])
        return compact

    def on_reset(self, info: dict) -> None:
        self.events.append(("reset", self._compact(info)))

    def on_step(self, actions, rewards, terminated, truncated, info: dict) -> None:
        self.events.append(("step", np.asarray(actions), np.asarray(rewards), np.asarray(terminated),
                            np.asarray(truncated), self._compact(info)))

    def drain(self) -> list:
        events, self.events = self.events, []
        return events


def replay_trace(trace, events: list, envs: list[int]) -> None:
    """Calls `trace` (an agent.simtrace.TrainingTrace) as the worker's collector did, for the run's `envs`."""
    for event in events:
        if event[0] == "reset":
            trace.on_reset(event[1], envs=envs)
        else:
            trace.on_step(*event[1:], envs=envs)


class RolloutWorker:
    """K envs of the run and a CPU copy of the policy; `rollout(weights)` collects one rollout of them."""

    def __init__(self, actor_index: int, env_indices: list[int], track: str, reward: str | None, env_kwargs: dict,
                 schedule, start_episodes: list[int], spec, obs_shape, cfg: PPOConfig, seed: int,
                 step_delay: float = 0.0, tap: bool = False, network="racekit"):
        import gymnasium as gym

        from racekit.agent.policy import ActorCritic
        from racekit.agent.rollout import RolloutCollector, make_env

        torch.set_num_threads(1)
        torch.manual_seed(seed)
        gym.logger.min_level = gym.logger.ERROR + 10
        self.actor_index, self.rollouts = actor_index, 0
        kwargs = dict(env_kwargs, info_params=False)
        fns = [(lambda i=i, s=s: make_env(track, reward, kwargs, i, schedule, s))
               for i, s in zip(env_indices, start_episodes)]
        self.envs = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        if step_delay > 0:  # tests only (agent.distributed.RayOptions.debug_step_delay)
            step = self.envs.step
            self.envs.step = lambda action: (time.sleep(step_delay), step(action))[1]
        camera_shape, lidar_size = model_inputs(self.envs.single_observation_space)
        self.model = ActorCritic(obs_shape or camera_shape, spec, distribution=cfg.distribution, network=network,
                                 lidar_size=lidar_size)
        self.cfg = replace(cfg, envs=len(env_indices))
        self.tap = TraceTap(len(env_indices)) if tap else None
        self.collector = RolloutCollector(self.envs, self.model, self.cfg, seed=seed, trace=self.tap,
                                          start_episodes=start_episodes)
        self.env_indices = list(env_indices)

    def observation_space(self):
        return self.envs.single_observation_space

    def rollout(self, weights: dict, rollout_id: int = 0) -> dict:
        self.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
        t0 = time.monotonic()
        batch, stats = self.collector.collect()
        t, k = self.cfg.rollout_steps, self.cfg.envs
        out = {key: obs_map(lambda x: x.reshape(t, k, *x.shape[1:]).numpy().copy(), value)
               for key, value in batch.items()}
        for record in stats.records:
            record["env"] = self.env_indices[record["env"]]  # the run's env index
        self.rollouts += 1
        return {"batch": out, "stats": stats, "env_episodes": self.collector.env_episodes.copy(),
                "tag": (self.actor_index, rollout_id), "seconds": time.monotonic() - t0,
                "trace": self.tap.drain() if self.tap is not None else None}

    def close(self) -> None:
        self.envs.close()


def stack_rollouts(results: list[dict]) -> tuple[dict, EpisodeStats]:
    """The workers' (T, K) blocks side by side, flattened as one collector's batch; their episodes together."""
    blocks = [r["batch"] for r in results]
    batch = {}
    def side_by_side(parts: list[np.ndarray]) -> torch.Tensor:
        stacked = np.concatenate(parts, axis=1)  # (T, sum of K, ...)
        return torch.from_numpy(stacked.reshape(-1, *stacked.shape[2:]))

    for key, first in blocks[0].items():
        if isinstance(first, dict):  # observations of several sensors
            batch[key] = {name: side_by_side([b[key][name] for b in blocks]) for name in first}
        else:
            batch[key] = side_by_side([b[key] for b in blocks])
    stats = EpisodeStats()
    for r in results:
        s = r["stats"]
        stats.returns += s.returns
        stats.progress += s.progress
        stats.lengths += s.lengths
        stats.laps += s.laps
        stats.lap_times += s.lap_times
        stats.records += s.records
    return batch, stats


def _serve(conn, trainers_end, kwargs: dict) -> None:
    """A worker process: builds its RolloutWorker, then answers rollout requests until told to close."""
    # forked, it holds the trainer's end of its own pipe too: closed, a trainer that dies (even by SIGKILL)
    # ends this worker's recv with EOFError instead of leaving it waiting, orphaned, for ever
    trainers_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        worker = RolloutWorker(**kwargs)
        conn.send(("ok", worker.observation_space()))
        while True:
            command, payload = conn.recv()
            if command == "close":
                worker.close()
                return
            conn.send(("ok", worker.rollout(payload)))
    except (EOFError, BrokenPipeError):  # the trainer is gone
        return
    except Exception as exc:  # the reward function, a track, an env: the trainer raises it
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that cannot be pickled: its one line
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class WorkerRollouts:
    """A local run's vector env and collector: `ceil(envs / envs_per_worker)` rollout worker processes.

    Has what train() uses of both: `single_observation_space`, `env_episodes`, `collect()`, `close()`."""

    def __init__(self, cfg, start_episodes, spec, seed: int, envs_per_worker: int = 2, tap: bool = False):
        ppo: PPOConfig = cfg.rollout_config()  # PPO's settings, or SAC's (agent/sac.py: transitions, not returns)
        self.groups = [list(map(int, g)) for g in np.array_split(np.arange(ppo.envs),
                                                                  -(-ppo.envs // max(1, envs_per_worker)))]
        self.env_episodes = np.array(start_episodes, dtype=np.int64)
        self.trace, self.model, self.processes, self.conns = None, None, [], []
        context = multiprocessing.get_context("fork")  # as AsyncVectorEnv: the workers start in milliseconds
        try:
            for w, indices in enumerate(self.groups):
                kwargs = dict(actor_index=w, env_indices=indices, track=cfg.track, reward=cfg.reward,
                              env_kwargs=cfg.env_kwargs(), schedule=cfg.schedule(),
                              start_episodes=[int(self.env_episodes[i]) for i in indices], spec=spec,
                              obs_shape=None, cfg=ppo, seed=seed + indices[0], tap=tap,
                              network=cfg.policy_network())
                parent, child = context.Pipe()
                process = context.Process(target=_serve, args=(child, parent, kwargs), daemon=True,
                                          name=f"racekit-rollout-{w}")
                process.start()
                child.close()
                self.processes.append(process)
                self.conns.append(parent)
            spaces = [self._receive(w) for w in range(len(self.groups))]
        except BaseException:
            self.close()
            raise
        self.single_observation_space = spaces[0]

    def bind(self, model, trace=None) -> "WorkerRollouts":
        self.model, self.trace = model, trace
        return self

    def _died(self, w: int):
        self.processes[w].join(timeout=1)
        return RunError(f"rollout worker {w} (envs {self.groups[w]}) died (exit code {self.processes[w].exitcode})")

    def _receive(self, w: int):
        try:
            status, payload = self.conns[w].recv()
        except EOFError:
            raise self._died(w) from None
        if status == "error":
            raise payload
        return payload

    def collect(self) -> tuple[dict, EpisodeStats]:
        weights = {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}
        for w, conn in enumerate(self.conns):
            try:
                conn.send(("rollout", weights))
            except BrokenPipeError:
                raise self._died(w) from None
        results = [self._receive(w) for w in range(len(self.conns))]
        for indices, r in zip(self.groups, results):
            self.env_episodes[indices] = r["env_episodes"]
        if self.trace is not None:
            for indices, r in zip(self.groups, results):
                replay_trace(self.trace, r["trace"], indices)
        return stack_rollouts(results)

    def close(self, terminate: bool = False) -> None:
        for conn, process in zip(self.conns, self.processes):
            if not terminate and process.is_alive():
                try:
                    conn.send(("close", None))
                except (BrokenPipeError, OSError):
                    pass
        for process in self.processes:
            if terminate:
                process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self.conns:
            conn.close()
        self.processes, self.conns = [], []


__all__ = ["RolloutWorker", "TraceTap", "WorkerRollouts", "replay_trace", "stack_rollouts"]
