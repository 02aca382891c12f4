"""Rollouts on Ray: `racekit train --ray [ADDRESS]`. The learner stays in the driver; only the collector changes.

`RayRollouts` stands where train() has its AsyncVectorEnv and RolloutCollector: it has the vector env's
`single_observation_space` and `close()`, and the collector's `collect()` and `env_episodes`, so the
training loop (PPO update, checkpoints, metrics, evaluations, progress bar, --resume, Ctrl-C) is the one
of a local run.

Layout. The run's `ppo.envs` envs are split between `actors` Ray actors, K = envs / actors each (env
indices, and so track schedules, as in a local run: actor a holds envs a*K .. a*K+K-1). Each actor is a
`RolloutWorker` (agent/workers.py, as a local run's worker processes): a SyncVectorEnv of its K envs (agent.rollout.make_env, episodes reset in the same step
they end) and the local RolloutCollector over a CPU copy of the policy (torch on one thread). Per update
the driver puts the policy's state_dict in the object store once (numpy arrays, ray.put), every actor
loads it, collects T = rollout_steps steps of its K envs, and returns the batch RolloutCollector makes
(uint8 observations, actions, log-probs, GAE advantages and returns, the truncation bootstrap folded in:
GAE runs along each env's own steps, so computing it in the actor gives exactly what the driver would).
The driver stacks the actors' (T, K) blocks along the env axis and flattens them as the local collector
does: (T, envs) -> T * envs rows, so ppo_update is unchanged.

Faults: an actor lost mid-rollout (RayActorError, ActorDiedError, its node removed) has its whole
rollout dropped: the update trains on the rollouts of the actors that finished (a smaller batch; the run's
step count counts the transitions actually trained on), never on part of a rollout. The lost actor is
re-created at once (same env indices, their episode counts as of its last finished rollout); Ray places
it on a node with a free CPU, now or when a node joins. Actors not yet placed are left out of an update
(never waited for while others are ready). If no actor is ready for `placement_timeout` seconds, the
run stops with NoRolloutWorkers (a RunError): the checkpoint of the last update is on disk, and
--resume goes on from it.

Every transition of a batch carries a tag (actor index, rollout id) in batch["debug_rollout"] (unused
by ppo_update); each update appends to distributed.jsonl in the run directory which rollouts it trained
on, with their transition counts taken from those tags, and which were lost.

DeepRacer's sim-traces: each actor records its collector's trace calls (agent.workers.TraceTap) and the
driver replays those of the rollouts it trains on into the run's trace, actor by actor; a lost rollout's
steps are never written. A replaced actor's envs start new episodes, and the episodes they were driving
stay cut where the last trained rollout ended (as a run's last episodes are).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from racekit.agent.errors import RunError
from racekit.agent.observations import model_inputs
from racekit.agent.workers import RolloutWorker, replay_trace, stack_rollouts

INSTALL_HINT = "--ray needs Ray, which is not installed: pip install racekit[ray]"


class NoRolloutWorkers(RunError):
    """No Ray actor could be placed; str() is one line."""


@dataclass
class RayOptions:
    address: str = "local"  # "local": start Ray here, stop it at the end; "auto" or HOST:PORT: join a cluster
    actors: int = 2  # rollout actors; the run's envs are split evenly between them
    cpus_per_actor: float = 1.0
    placement_timeout: float = 60.0  # seconds with no actor ready before the run stops
    debug_step_delay: float = 0.0  # tests: seconds each actor sleeps per step, so a node can be removed mid-rollout


def require_ray():
    """Ray, or a RunError saying in one line how to install it."""
    try:
        import ray
    except ImportError:
        raise RunError(INSTALL_HINT) from None
    return ray


class RayRolloutWorker(RolloutWorker):
    """What runs in each Ray actor: agent.workers.RolloutWorker, and where Ray placed it."""

    def info(self) -> dict:
        import ray

        return {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "observation_space": self.observation_space()}


class RayRollouts:
    """The vector env and collector of a --ray run (see the module's docstring)."""

    def __init__(self, options: RayOptions, cfg, start_episodes, spec, run_dir: Path, seed: int):
        ray = self.ray = require_ray()
        ppo = cfg.ppo
        if options.actors < 1 or ppo.envs % options.actors:
            raise RunError(f"--ray-actors {options.actors} must divide --envs {ppo.envs} (each actor holds "
                           f"the same number of envs)")
        self.options, self.cfg, self.ppo, self.spec, self.seed = options, cfg, ppo, spec, seed
        self.k = ppo.envs // options.actors
        self.env_episodes = np.array(start_episodes, dtype=np.int64)
        self.log_path = Path(run_dir) / "distributed.jsonl"
        self.started_ray = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}
            if options.address == "local":
                cpus = max(os.cpu_count() or 1, int(np.ceil(options.actors * options.cpus_per_actor)))
                ray.init(address="local", num_cpus=cpus, **kwargs)  # a new instance, never one found running
            else:
                ray.init(address=options.address, **kwargs)
            self.started_ray = True
        self.worker_class = ray.remote(RayRolloutWorker)
        self.actors: list = [None] * options.actors
        self.ready: list = [None] * options.actors  # the pending info() call of an actor not yet placed
        self.generation = [0] * options.actors
        self.rollout_id, self.update = 0, 0
        self.obs_shape = None
        try:
            for a in range(options.actors):
                self._spawn(a)
            infos = self._wait_ready(first=True)
        except BaseException:
            self.close()
            raise
        self.single_observation_space = infos[0]["observation_space"]
        self.obs_shape = model_inputs(self.single_observation_space)[0]  # the camera's, for actors spawned later
        self.model, self.trace = None, None

    # -- actors ---------------------------------------------------------------------------------------------
    def _spawn(self, a: int) -> None:
        indices = list(range(a * self.k, (a + 1) * self.k))
        cfg = self.cfg
        seed = self.seed + indices[0] + 7919 * self.generation[a] + 1000 * self.update
        actor = self.worker_class.options(num_cpus=self.options.cpus_per_actor, max_restarts=0,
                                          name=None).remote(
            a, indices, cfg.track, cfg.reward, cfg.env_kwargs(), cfg.schedule(),
            [int(self.env_episodes[i]) for i in indices], self.spec, self.obs_shape, self.ppo, seed,
            self.options.debug_step_delay, cfg.simtrace, cfg.network)
        self.actors[a], self.ready[a] = actor, actor.info.remote()
        self.generation[a] += 1

    def _lost(self, a: int, why: str, rollout: int | None = None) -> None:
        message = f"ray: rollout actor {a} lost ({why})" + (f"; its rollout {rollout} dropped" if rollout is not None
                                                             else "") + "; re-creating it"
        print(message, flush=True)
        self._log({"event": "actor_lost", "actor": a, "rollout": rollout, "update": self.update, "reason": why})
        try:
            self.ray.kill(self.actors[a], no_restart=True)
        except Exception:
            pass
        self._spawn(a)

    def _wait_ready(self, first: bool = False) -> list:
        """Infos of the actors placed now; waits (up to placement_timeout) only while none is."""
        ray = self.ray
        deadline = time.monotonic() + self.options.placement_timeout
        infos = []
        while True:
            for a, ref in enumerate(self.ready):
                if ref is None:
                    continue
                done, _ = ray.wait([ref], timeout=0)
                if not done:
                    continue
                try:
                    info = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the env failed to build: the run's fault, not a node's
                    raise _cause(exc) from None
                except ray.exceptions.RayError as exc:
                    _raise_if_init_failed(exc, a)
                    self._lost(a, type(exc).__name__)
                    continue
                self.ready[a] = None
                self._log({"event": "actor_ready", "actor": a, "node": info["node"], "pid": info["pid"]})
                infos.append(info)
            placed = [a for a in range(len(self.actors)) if self.ready[a] is None]
            if placed and (not first or len(placed) == len(self.actors)):
                return infos
            if time.monotonic() > deadline:
                if placed:
                    return infos
                raise NoRolloutWorkers(
                    f"ray: no rollout actor could be placed for {self.options.placement_timeout:g} s "
                    f"({len(self.actors)} wanted, {self.options.cpus_per_actor:g} CPU each); the run stops; "
                    f"its last checkpoint is kept: resume with --resume once the cluster has free CPUs")
            pending = [r for r in self.ready if r is not None]
            ray.wait(pending, num_returns=1, timeout=0.5)

    # -- the collector --------------------------------------------------------------------------------------
    def bind(self, model, trace=None) -> "RayRollouts":
        self.model, self.trace = model, trace
        return self

    def collect(self):
        ray = self.ray
        self._wait_ready()
        weights = ray.put({k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()})
        calls = {}
        for a, actor in enumerate(self.actors):
            if self.ready[a] is None:
                calls[a] = (self.rollout_id, actor.rollout.remote(weights, self.rollout_id))
                self.rollout_id += 1
        self._log({"event": "rollouts", "update": self.update, "started": [[a, rid] for a, (rid, _) in calls.items()]})
        results, lost = {}, []
        for a, (rid, ref) in calls.items():
            try:
                results[a] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # the reward function or the env raised: stop the run
                raise _cause(exc) from None
            except ray.exceptions.RayError as exc:  # RayActorError, ActorDiedError, node lost
                _raise_if_init_failed(exc, a)
                lost.append((a, rid, type(exc).__name__))
        for a, rid, why in lost:
            self._lost(a, why, rid)
        if not results:
            self._log({"event": "update_empty", "update": self.update})
            self.update += 1
            return self.collect()  # every actor was lost: wait for the replacements (or NoRolloutWorkers)
        order = sorted(results)
        batch, stats = stack_rollouts([results[a] for a in order])
        t = self.ppo.rollout_steps
        tags = np.concatenate([np.broadcast_to(np.array(results[a]["tag"], np.int64), (t, self.k, 2))
                               for a in order], axis=1).reshape(-1, 2)
        batch["debug_rollout"] = torch.from_numpy(tags.copy())
        for a in order:
            self.env_episodes[a * self.k:(a + 1) * self.k] = results[a]["env_episodes"]
            if self.trace is not None:  # the rollouts trained on, never a lost one
                replay_trace(self.trace, results[a]["trace"], list(range(a * self.k, (a + 1) * self.k)))
        ids, counts = np.unique(tags, axis=0, return_counts=True)
        self._log({"event": "update", "update": self.update, "transitions": int(len(tags)),
                   "trained": [[int(x), int(y), int(c)] for (x, y), c in zip(ids, counts)],
                   "lost": [[a, rid] for a, rid, _ in lost],
                   "seconds": {str(a): round(results[a]["seconds"], 3) for a in order}})
        self.update += 1
        return batch, stats

    # -- the vector env's end -------------------------------------------------------------------------------
    def close(self, terminate: bool = True) -> None:
        ray = self.ray
        for actor in getattr(self, "actors", []):
            if actor is not None:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:
                    pass
        self.actors = []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()
            self.started_ray = False

    def _log(self, record: dict) -> None:
        record = {"time": round(time.time(), 3), **record}
        with self.log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def _raise_if_init_failed(exc, actor: int) -> None:
    """An actor whose __init__ raised (its envs could not be built) is the run's fault: re-creating it
    would fail the same way. One line: the last of Ray's message, the original exception's."""
    if getattr(exc, "actor_init_failed", False):
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise RunError(f"ray: rollout actor {actor} could not start: {lines[-1] if lines else type(exc).__name__}")


def _cause(exc):
    """The exception an actor's method raised (a RewardError keeps its file and line)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
