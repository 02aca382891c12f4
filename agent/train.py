"""The training run: PPO from pixels against a reward function, with evaluations and checkpoints.

A run lives in one directory: config.json (everything needed to resume),
checkpoints/last.pt and best.pt, metrics.csv, episodes.csv, evaluations.jsonl,
TensorBoard events and training.png, DeepRacer's sim-traces,
model_metadata.json and hyperparameters.json (agent/simtrace.py), and live/ (the
evaluation car's pictures, agent/live.py). Checkpoints
are written at the start and after every update, so a run killed at any moment
resumes from the last one with --resume.

The envs drive the run's tracks as agent/schedule.py plans (several tracks,
generated ones, both directions), each env's episode count kept in the
checkpoint so a resumed run goes on with the same tracks; the race type's
objects and the randomisation are env arguments. Evaluations race with the race
type's objects and no randomisation: a one-track run its track, forwards; a run
on several or generated tracks a fixed panel (`evaluation_panel`): the track the
user named (piccolo if none), the same generated tracks for every run (seeds no
training ever draws), both directions where it trains both, so "best" means the
most clean laps over tracks it may not have seen, then the faster lap (with boxes
or bots the later evaluation: agent/logbook.py `better`). A run may
start from another run's weights, or a DeepRacer model's (`from_model`, --from):
same network, camera and action space, a fresh optimizer (and, from DeepRacer, a
fresh value head: its frozen graph holds the policy only), steps counted from 0.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import gymnasium
import numpy as np
import torch
from tqdm import tqdm

from racekit.agent.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from racekit.agent.errors import RunError  # its home is errors.py (workers and distributed raise it too)
from racekit.agent.evaluate import evaluate, torch_driver
from racekit.agent.live import LiveView
from racekit.agent.logbook import SAC_FIELDS, Logbook, better, read_evaluations
from racekit.agent.observations import model_inputs, obs_len
from racekit.agent.policy import ActionSpec, ActorCritic, DeterministicPolicy
from racekit.agent.ppo import FORMER as PPO_FORMER, PPOConfig, ppo_update
from racekit.agent.sac import SACConfig, SACTraining
from racekit.agent.source import sha256_of, source_model
from racekit.agent.panel import evaluate_panel, evaluation_panel, evaluation_races
from racekit.agent.schedule import GENERATED, TrackSchedule
from racekit.agent.simtrace import (EPISODES_PER_ITERATION, TrainingTrace, drop_evaluations_after,
                                    evaluation_folder, write_metadata)
from racekit.agent.workers import WorkerRollouts
from racekit.sim.objects import BOT_SPEED
from racekit.sim.reward import RewardError, load_reward
from racekit.tracks import DEFAULT_TRACK, load_track


@dataclass
class RunConfig:
    track: str = DEFAULT_TRACK  # the run's track; with `tracks`, the first one it drives (agent/panel.py: where it is evaluated)
    reward: str | None = None  # path of the reward file; None = DeepRacer's default example
    steps: int | None = 200_000  # env steps in all; None: no step cap, `minutes` ends the run
    seed: int = 0
    minutes: float | None = None  # stop after this much wall-clock time (checkpoint kept)
    eval_every: int = 25_000  # env steps between evaluations
    eval_laps: int = 3
    # with boxes or bots, the placements an evaluation races (seeds 0, 1, ..., eval_laps laps each), so that
    # a clean evaluation is clean past more than one (agent/panel.py)
    eval_placements: int = 1
    stop_when_clean: bool = False  # stop at the first evaluation with every lap clean (--until-clean)
    # also keep each evaluation's checkpoint, checkpoints/step-N.pt, to choose among later on more races than an
    # evaluation's (bench/object_avoidance.py's validation); about 11 MB each with stereo cameras and a LIDAR
    keep_checkpoints: bool = False
    camera_width: int = 80
    camera_height: int = 60
    grayscale: bool = True
    frame_stack: int = 2
    steering_range: tuple[float, float] = (-30.0, 30.0)
    speed_range: tuple[float, float] = (0.5, 4.0)
    actions: list | None = None  # a discrete action list instead of the continuous ranges
    simtrace: bool = True  # DeepRacer's per-step sim-trace logs (agent/simtrace.py)
    simtrace_episodes: int = EPISODES_PER_ITERATION  # episodes per sim-trace iteration
    ppo: PPOConfig = field(default_factory=PPOConfig)
    envs_per_worker: int = 2  # envs stepped by each rollout worker process (agent/workers.py)
    # several tracks at once (agent/schedule.py): names, files or "generated"; empty = `track` alone
    tracks: list[str] = field(default_factory=list)
    track_episodes: int = 20  # episodes an env drives one track before the next (or a new generated one)
    alternate_direction: bool = False  # every other episode reversed (DeepRacer's alternate direction)
    race_type: str = "time-trial"  # or "object-avoidance", "head-to-bot" (sim/objects.py)
    num_objects: int = 6  # object-avoidance boxes
    object_positions: list | None = None  # or fixed ones: [fraction of the lap, lane +1 left / -1 right] each
    num_bots: int = 3  # head-to-bot bots
    bot_speed: float = BOT_SPEED  # m/s
    bot_lane_changes: bool = False
    # with boxes or bots, the share of training episodes that start where a race puts a crashed car back: at
    # rest 1 m behind one, in the other lane (sim/env.py's putback_starts; 0 for runs from before it)
    putback_starts: float = 0.25
    randomize: str | None = None  # a randomisation preset's name or a file's path (sim/randomization.py)
    from_model: dict | None = None  # the model this run started from (--from): path, checkpoint, sha256, step
    eval_panel: bool = True  # several or generated tracks: evaluate on evaluation_panel() (False: runs before it)
    network: str = "racekit"  # or one of DeepRacer's presets (agent/networks.py)
    fov_deg: float = 120.0  # the camera's horizontal field of view
    camera_mount: str = "racekit"  # or "deepracer": DeepRacer's simulator camera (a DeepRacer model's)
    look: str = "racekit"  # or "deepracer": DeepRacer's track colours and textures
    algorithm: str = "ppo"  # or "sac" (agent/sac.py); a config from before SAC is PPO's
    sensors: list[str] = field(default_factory=lambda: ["front-camera"])  # sim/sensors.py: one camera, a LIDAR
    lidar_config: dict | None = None  # the discretised sector LIDAR's (sim.sensors.LidarConfig's fields)
    sac: SACConfig = field(default_factory=SACConfig)  # SAC's settings (used when algorithm is "sac")

    def rollout_config(self):
        """The settings the rollout workers collect with: PPO's, or SAC's (transitions for the replay buffer)."""
        return self.sac if self.algorithm == "sac" else replace(self.ppo, distribution=self.distribution())

    def distribution(self) -> str:
        if self.algorithm == "sac":
            return "squashed"
        return "gaussian" if self.actions is not None else self.ppo.distribution  # an action list: categorical

    def policy_network(self):
        """The policy's network: the --network preset's name, or for SAC with a DeepRacer preset that preset
        then DeepRacer's SAC head (agent/sac.py's policy_network), as a dict checkpoints keep."""
        if self.algorithm != "sac" or self.network == "racekit":
            return self.network
        from racekit.agent.sac import policy_network

        return policy_network(self.network).as_dict()

    def race_kwargs(self) -> dict:
        """The env arguments of the race type (training and evaluations alike)."""
        if self.race_type == "object-avoidance":
            fixed = {"object_positions": [tuple(p) for p in self.object_positions]} if self.object_positions else {}
            return {"race_type": self.race_type, "num_objects": self.num_objects, **fixed}
        if self.race_type == "head-to-bot":
            return {"race_type": self.race_type, "num_bots": self.num_bots, "bot_speed": self.bot_speed,
                    "bot_lane_changes": self.bot_lane_changes}
        return {}

    def track_list(self) -> list[str]:
        return list(self.tracks) or [self.track]

    def schedule(self) -> TrackSchedule:
        return TrackSchedule(tuple(self.track_list()), self.track_episodes, self.alternate_direction, self.seed)

    def env_kwargs(self) -> dict:
        kwargs = {"camera_width": self.camera_width, "camera_height": self.camera_height,
                  "grayscale": self.grayscale, "frame_stack": self.frame_stack, "start_noise": True,
                  **self.race_kwargs(), **self.lens_kwargs(), **self.sensor_kwargs()}
        if self.race_type != "time-trial" and self.putback_starts:
            kwargs["putback_starts"] = self.putback_starts
        if self.randomize is not None:
            kwargs["randomize"] = self.randomize
        if self.actions is not None:
            return kwargs | {"actions": self.actions}
        return kwargs | {"steering_range": tuple(self.steering_range), "speed_range": tuple(self.speed_range)}

    def action_spec(self) -> ActionSpec:
        if self.actions is not None:
            return ActionSpec(table=tuple(tuple(map(float, a)) for a in self.actions))
        return ActionSpec(low=(self.steering_range[0], self.speed_range[0]),
                          high=(self.steering_range[1], self.speed_range[1]))

    def lens_kwargs(self) -> dict:
        """The env arguments of a camera other than racekit's (none for racekit's: runs from before them)."""
        kwargs = {"fov_deg": self.fov_deg} if self.fov_deg != 120.0 else {}
        if self.camera_mount != "racekit":
            kwargs["camera_mount"] = self.camera_mount
        if self.look != "racekit":
            kwargs["look"] = self.look
        return kwargs

    def sensor_kwargs(self) -> dict:
        """The env arguments of sensors other than the front camera alone (none for it: runs from before them)."""
        return {} if list(self.sensors) == ["front-camera"] else self.sensor_meta()

    def sensor_meta(self) -> dict:
        """What a checkpoint and a model file say of the sensors: their names (and the LIDAR's settings)."""
        return {"sensors": list(self.sensors), **({"lidar_config": self.lidar_config} if self.lidar_config else {})}

    def camera(self) -> dict:
        extra = {k: v for k, v in (("mount", self.camera_mount), ("look", self.look)) if v != "racekit"}
        if list(self.sensors) != ["front-camera"]:  # what the model sees: agent/evaluate.py's camera_kwargs
            extra.update(self.sensor_meta())
        if "stereo-cameras" in self.sensors:
            extra["cameras"] = 2  # a stereo pair: each frame the left picture, then the right (grey)
        return {"width": self.camera_width, "height": self.camera_height, "channels": 1 if self.grayscale else 3,
                "fov_deg": self.fov_deg, "frame_stack": self.frame_stack, **extra}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "RunConfig":
        data = dict(data)  # a config.json from before a field existed gets its default
        data["ppo"] = PPOConfig(**{**PPO_FORMER, **data.get("ppo", {})})  # what it was trained with
        data["sac"] = SACConfig(**data.get("sac", {}))
        data.setdefault("eval_panel", False)  # a run from before the panel resumes evaluating as it was trained
        data.setdefault("putback_starts", 0.0)  # and one from before put-back starts starts as it did
        return cls(**data)


def first_track(cfg: RunConfig) -> str:
    """The track evaluations race: the first of the list; "generated" first is env 0's first generated one."""
    first = cfg.track_list()[0]
    if first != GENERATED:
        return first
    return cfg.schedule().track_name(0, 0, cfg.race_kwargs())


def prepare_run(run_dir: Path, cfg: RunConfig | None, resume: bool) -> tuple[RunConfig, dict | None, list[str]]:
    """Check the run directory; returns the config, the checkpoint to resume from, and warnings."""
    config_path, last = run_dir / "config.json", run_dir / "checkpoints" / "last.pt"
    warnings = []
    if resume:
        if not config_path.is_file() or not last.is_file():
            raise RunError(f"{run_dir}: not a racekit run (no config.json and checkpoints/last.pt) to resume")
        try:
            saved = RunConfig.from_json(json.loads(config_path.read_text())["run"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{config_path}: unreadable run config ({exc})") from None
        if cfg is not None and cfg.steps and (saved.steps is None or cfg.steps > saved.steps):
            saved.steps = cfg.steps  # resuming may extend a run (or give a time-bound one a step cap)
        if cfg is not None and cfg.minutes is not None:
            saved.minutes = cfg.minutes  # and give this session its own time budget
        if cfg is not None:
            saved.stop_when_clean = cfg.stop_when_clean  # and its own stopping rule
        state = load_checkpoint(last)
        if saved.reward:
            started = json.loads(config_path.read_text()).get("reward_sha256")
            now = sha256_of(saved.reward) if Path(saved.reward).is_file() else None
            if now != started:
                warnings.append(f"warning: the reward file {saved.reward} changed since the run started "
                                f"(sha256 then {started}, now {now}); training goes on with the file as it is now")
        return saved, state, warnings
    if last.exists():
        raise RunError(f"{run_dir}: already holds a run; use --resume to continue it or choose another --out")
    if cfg.steps is None and cfg.minutes is None:
        raise RunError("a run needs a step count or a time budget (--steps or --minutes)")
    if cfg.reward:
        load_reward(cfg.reward)  # fail now, with the file and line, not inside a worker
    if cfg.tracks:
        if cfg.tracks == [cfg.tracks[0]] and cfg.tracks[0] != GENERATED:
            cfg.track, cfg.tracks = cfg.tracks[0], []  # one named track: the config of a one-track run
        else:
            try:
                cfg.schedule()
                cfg.track = first_track(cfg)
            except ValueError as exc:
                raise RunError(str(exc)) from None
    if cfg.algorithm == "sac" and cfg.sac.buffer_size is None:  # sized for this machine, then kept in the config
        from racekit.agent.sac import default_buffer_size

        cfg.sac.buffer_size = default_buffer_size(slot_bytes(cfg))
    if cfg.from_model is not None:
        cfg.from_model = source_model(cfg.from_model, cfg)[0]  # before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.reward:
        shutil.copyfile(cfg.reward, run_dir / "reward_function.py")  # what this run was trained with
    from racekit.agent.export import racekit_version  # agent/ must not import the racekit package

    config_path.write_text(json.dumps({"run": cfg.to_json(), "reward_sha256": sha256_of(cfg.reward),
                                       "racekit_version": racekit_version(),
                                       "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))
    return cfg, None, warnings


def lidar_size(cfg: RunConfig) -> int:
    """Values in one scan of the run's LIDAR (0: none)."""
    from racekit.sim.sensors import LidarConfig, lidar_of, lidar_space

    lidar = lidar_of(cfg.sensors)
    return lidar_space(lidar, LidarConfig.from_dict(cfg.lidar_config)).shape[0] if lidar else 0


def slot_bytes(cfg: RunConfig) -> int:
    """Bytes of one step's newest camera frames (both of a stereo pair) and LIDAR scan: SAC's buffer slot."""
    cameras = 2 if "stereo-cameras" in cfg.sensors else 1
    return cfg.camera_width * cfg.camera_height * (1 if cfg.grayscale else 3) * cameras + 4 * lidar_size(cfg)


def limits(cfg: RunConfig) -> str:
    """Which limit ends the run, in words: the user asked for minutes or steps and gets to know which."""
    steps = f"{cfg.steps:,} env steps" if cfg.steps is not None else None
    minutes = f"{cfg.minutes:g} minutes" if cfg.minutes is not None else None
    ends = " or ".join(x for x in (steps, minutes) if x)
    clean = ", or at the first evaluation with every lap clean" if cfg.stop_when_clean else ""
    return f"training until {ends}{', whichever comes first' if steps and minutes else ''}{clean}"


def train(run_dir: Path, cfg: RunConfig | None = None, resume: bool = False, quiet: bool = False,
          ray=None) -> dict:
    """Train (or resume) the run in `run_dir`; returns a summary. Raises RunError/RewardError/CheckpointError.

    `ray` (an agent.distributed.RayOptions): the rollouts run in Ray actors instead of local env processes."""
    run_dir = Path(run_dir)
    cfg, state, warnings = prepare_run(run_dir, cfg, resume)
    for w in warnings:
        print(w)
    ppo, rollout = cfg.ppo, cfg.rollout_config()
    if cfg.algorithm == "sac" and ray is not None:
        raise RunError("--ray: distributed rollouts are PPO's only so far; a SAC run collects with local rollout "
                       "workers (leave out --ray)")
    torch.manual_seed(cfg.seed)
    # The rollout workers own the cores while they step; the update runs alone, on every core (unless
    # OMP_NUM_THREADS says otherwise).
    update_threads = torch.get_num_threads() if "OMP_NUM_THREADS" in os.environ else max(1, os.cpu_count() or 1)
    gymnasium.logger.min_level = gymnasium.logger.ERROR + 10  # worker errors are reported by us, in one line

    # the track schedule goes on where the checkpoint left it: each env's episodes so far
    start_episodes = ((state or {}).get("tracks") or {}).get("episodes") or [0] * rollout.envs
    rollout_seed = cfg.seed + 1000 * (state or {}).get("update", 0)  # a resumed run's envs start anew
    if ray is None:  # rollout worker processes, each with its envs and a copy of the policy (agent/workers.py)
        envs = WorkerRollouts(cfg, start_episodes, cfg.action_spec(), seed=rollout_seed,
                              envs_per_worker=cfg.envs_per_worker, tap=cfg.simtrace)
    else:  # --ray hook: Ray rollout actors stand for the vector env and the collector (agent/distributed.py)
        from racekit.agent.distributed import RayRollouts

        envs = RayRollouts(ray, cfg, start_episodes, cfg.action_spec(), run_dir, seed=rollout_seed)
    spec = cfg.action_spec()
    obs_shape, lidar_size = model_inputs(envs.single_observation_space)
    model = ActorCritic(obs_shape, spec, distribution=cfg.distribution(), network=cfg.policy_network(),
                        lidar_size=lidar_size)
    generator = torch.Generator().manual_seed(cfg.seed)
    if cfg.algorithm == "sac":  # agent/sac.py: critics, target, alpha and the replay buffer beside the policy
        sac = SACTraining(model, cfg, obs_shape, generator)
        optimizer = None
    else:
        sac, optimizer = None, torch.optim.Adam(model.parameters(), lr=ppo.learning_rate, eps=1e-5)
    global_step, update, best = 0, 0, None
    if state is not None:
        model.load_state_dict(state["model"])
        if sac is not None:
            sac.load(state)
        else:
            optimizer.load_state_dict(state["optimizer"])
        global_step, update, best = state["global_step"], state["update"], state.get("best")
        torch.set_rng_state(state["torch_rng"])
        generator.set_state(state["generator"])
    elif cfg.from_model is not None:  # a new run from another model's weights; its optimizer starts afresh
        source = source_model(cfg.from_model["checkpoint"], cfg)[1]
        model.load_state_dict(source["model"])
        if sac is not None and source.get("sac") is not None:
            sac.agent.load_sac_state(source["sac"])  # its critics, target and alpha too
    trace = start_simtrace(run_dir, cfg, spec, state, global_step) if cfg.simtrace else None
    collector = envs.bind(model, trace)
    logbook = Logbook(run_dir, resume_step=global_step, extra_fields=SAC_FIELDS if sac is not None else None)
    meta = {"run": cfg.to_json(), "obs_shape": list(obs_shape), "lidar_size": lidar_size,
            "actions": spec.as_dict(), "camera": cfg.camera(), "reward_sha256": sha256_of(cfg.reward),
            "network": cfg.policy_network()}
    panel = evaluation_panel(cfg)  # evaluations: the run's track, or the panel, with the race type's objects
    live = LiveView(run_dir, cfg.camera()["channels"])  # RUN/live/: the evaluation car, for the console
    eval_laps = cfg.eval_laps * len(evaluation_races(cfg, panel))

    def checkpoint(name: str) -> None:
        save_checkpoint(run_dir / "checkpoints" / f"{name}.pt", {
            "model": model.state_dict(), "global_step": global_step,
            **(sac.state() if sac is not None else {"optimizer": optimizer.state_dict()}),
            "update": update, "best": best, "torch_rng": torch.get_rng_state(), "generator": generator.get_state(),
            "simtrace": trace.state() if trace is not None else None,
            "tracks": {"episodes": [int(n) for n in collector.env_episodes]}, **meta})

    if state is None:
        checkpoint("last")  # step 0: the run can be resumed (or exported) before its first update

    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    started, last_eval = time.monotonic(), global_step // cfg.eval_every
    if not quiet:
        print(limits(cfg), flush=True)
        if sac is not None:
            print(sac.describe(), flush=True)
    if sac is not None and state is not None:  # quiet or not: the run is not where it was
        print(f"SAC: the replay buffer is not saved with checkpoints: it refills from here, with "
              f"{cfg.sac.warmup_steps:,} env steps before updates go on", flush=True)
        if len(panel) > 1:
            print("evaluations race a panel: " + ", ".join(f"{t}{' reversed' if r else ''}" for t, r in panel), flush=True)
    bar = tqdm(total=cfg.steps, initial=global_step, unit="step", disable=quiet, dynamic_ncols=True, smoothing=0.1)
    outcome = "done"
    try:
        while cfg.steps is None or global_step < cfg.steps:
            if cfg.minutes is not None and time.monotonic() - started > 60 * cfg.minutes:
                outcome = "time budget reached"
                break
            if sac is None and ppo.anneal_lr:  # PPO's: linear to 0 over the run's steps, or its time budget
                done = global_step / cfg.steps if cfg.steps is not None else 0.0
                if cfg.minutes is not None:
                    done = max(done, (time.monotonic() - started) / (60 * cfg.minutes))
                optimizer.param_groups[0]["lr"] = ppo.learning_rate * max(0.0, 1.0 - done)
            t0 = time.monotonic()
            batch, episodes = collector.collect()
            logbook.log_episodes(episodes.records, global_step, rollout.envs)
            torch.set_num_threads(update_threads)
            if sac is None:
                losses = ppo_update(model, optimizer, batch, ppo, generator)
            else:  # into the replay buffer, then replay_ratio updates per step collected
                losses = sac.learn(batch)
            if trace is not None:
                trace.flush()  # the rollout just trained on; a checkpoint follows, before the next rollout
            trained = obs_len(batch["obs"])  # envs x rollout_steps; with --ray, less in an update that lost an actor
            global_step += trained
            update += 1
            row = {"update": update, "global_step": global_step, "wall_seconds": round(time.monotonic() - started, 1),
                   "steps_per_second": round(trained / (time.monotonic() - t0), 1),
                   "episodes": len(episodes.returns), "laps": episodes.laps,
                   "mean_return": float(np.mean(episodes.returns)) if episodes.returns else "",
                   "mean_progress": float(np.mean(episodes.progress)) if episodes.progress else "",
                   "best_lap_time": min(episodes.lap_times) if episodes.lap_times else "",
                   "learning_rate": optimizer.param_groups[0]["lr"] if sac is None else cfg.sac.learning_rate,
                   **losses}
            if sac is not None:
                row.update(sac.progress(global_step))
            logbook.log(row)
            if global_step // cfg.eval_every > last_eval or (cfg.steps is not None and global_step >= cfg.steps):
                last_eval = global_step // cfg.eval_every
                # one frame at a time: a second thread gains nothing and, on a busy machine, costs many times
                torch.set_num_threads(1)
                result = evaluate_panel(torch_driver(DeterministicPolicy(model)), cfg, panel,
                                        evaluation_folder(run_dir, global_step) if trace is not None else None,
                                        live, global_step)
                result.update(global_step=global_step, wall_seconds=round(time.monotonic() - started, 1))
                logbook.log_evaluation(result)
                model.train()
                if cfg.keep_checkpoints:
                    checkpoint(f"step-{global_step}")
                key = better(result, best, cfg.race_type)
                if key is not None:
                    best = key
                    checkpoint("best")
                bar.write(f"eval at {global_step} steps: completion {result['completion']:.0f}%, "
                          f"clean laps {result['clean_laps']}/{eval_laps}{' over the panel' if len(panel) > 1 else ''}, "
                          f"lap times "
                          f"{', '.join(f'{t:.2f}' for t in result['lap_times']) or '-'} s")
            checkpoint("last")
            bar.update(trained)
            bar.set_postfix(progress=f"{row['mean_progress'] or 0:.0f}%", laps=episodes.laps, refresh=False)
            if cfg.stop_when_clean and best is not None and best[0] == eval_laps:
                outcome = "clean laps"
                break
    except KeyboardInterrupt:
        outcome = "interrupted"
    except RewardError:
        outcome = "reward error"
        raise
    finally:
        bar.close()
        signal.signal(signal.SIGTERM, previous_sigterm)
        envs.close(terminate=True)
        logbook.close()
    evaluations = read_evaluations(run_dir)
    return {"outcome": outcome, "global_step": global_step, "update": update, "run_dir": str(run_dir),
            "wall_seconds": time.monotonic() - started, "evaluations": len(evaluations),
            "clean_evaluations": sum(1 for e in evaluations if e["all_clean"]),
            "last_evaluation": evaluations[-1] if evaluations else None}


def start_simtrace(run_dir: Path, cfg: RunConfig, spec: ActionSpec, state: dict | None,
                   global_step: int) -> TrainingTrace:
    """DeepRacer's model folder files for the run; resuming, the traces cut back to the checkpoint."""
    write_metadata(run_dir, spec.as_dict(), cfg.rollout_config(), cfg.frame_stack, cfg.simtrace_episodes, cfg.network,
                   cfg.sensors, cfg.lidar_config)
    drop_evaluations_after(run_dir, global_step)
    return TrainingTrace(run_dir, load_track(cfg.track), spec.as_dict(), cfg.rollout_config().envs,
                         cfg.simtrace_episodes, state=(state or {}).get("simtrace"))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


__all__ = ["RunConfig", "RunError", "CheckpointError", "train"]
