"""DeepRacer's sim-trace logs of a run, so the community's tools (deepracer-utils, the deepracer-analysis
notebooks) read a racekit run as they read a DeepRacer model folder.

The run directory gets the layout of a DeepRacer for Cloud model folder, which deepracer-utils'
`DeepRacerLog(model_folder=RUN)` recognises:

    training-simtrace/{iteration}-iteration.csv             every training env step
    evaluation-{step:014d}/evaluation-simtrace/0-iteration.csv   each evaluation during training
    model/model_metadata.json                               action space, sensor, network, algorithm
    ip/hyperparameters.json                                 DeepRacer's hyperparameter keys

Columns are DeepRacer's, in its order (COLUMNS), with its meanings: X, Y the car's reference point (metres),
yaw its heading and steer the steering angle (degrees), throttle the commanded speed (m/s), action the
discrete action's index or, continuous, "[steer speed]" as DeepRacer writes it, tstamp simulated seconds
since the episode's start (penalties included in races), and episode_status one of STATUS's values.

Each episode starts with a "prepare" row, the car at its start pose with the episode's first action, as in
DeepRacer (its tools zero an episode's time and distance there); it is step 0, so the env steps keep the
numbers the reward function saw in `params["steps"]`.

An iteration is `episodes_per_iteration` whole episodes, numbered in the order they start: DeepRacer's
`num_episodes_between_training`. deepracer-utils relies on that: it numbers episodes across iterations
(`unique_episode`) assuming every iteration holds as many episodes as the first, and sorts the rows by that
number; iterations of PPO updates, whose episode counts vary, would give two episodes one number and
interleave their rows (wrong times and distances in its per-episode tables).

Rows are buffered in the learner and written once per rollout. A checkpoint holds `TrainingTrace.state()`,
enough for a resumed run to cut the files back to that moment (rows written after it are redone) and to go
on numbering episodes and iterations from there.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from collections import defaultdict
from operator import itemgetter
from pathlib import Path

import numpy as np

COLUMNS = ["episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
           "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp", "episode_status",
           "pause_duration"]
HEADER = ",".join(COLUMNS) + "\n"
ROW = "%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%r,%s,%s,%.4f,%d,%.4f,%.4f,%s,%.1f\n"
# racekit's termination reasons in DeepRacer's episode_status words
STATUS = {None: "in_progress", "lap_complete": "lap_complete", "off_track": "off_track", "crashed": "crashed",
          "reversed": "reversed", "stuck": "immobilized"}
TRUNCATED = "time_up"  # max_steps reached
EPISODES_PER_ITERATION = 20  # DeepRacer's default num_episodes_between_training
EVALUATION = re.compile(r"evaluation-(\d{14})")


class TraceRows:
    """Rows in DeepRacer's columns from the env's per-step `info["trace"]` records on one track."""

    def __init__(self, track, actions: dict):
        self.waypoints = [tuple(map(float, w)) for w in track.waypoints]
        self.track_len = float(track.length)
        self.table = np.array(actions["actions"], dtype=float) if actions["type"] == "discrete" else None

    def action(self, action) -> str:
        """DeepRacer's action column: the index in the action list, or "[steer speed]" when continuous.

        A discrete model raced through the continuous evaluation env sends the pair: its index is the nearest row.
        """
        action = np.asarray(action)
        if self.table is None:
            return f"[{float(action[0]):.4f} {float(action[1]):.4f}]"
        if action.ndim == 0:
            return str(int(action))
        return str(int(np.argmin(np.abs(self.table - action[:2]).sum(axis=1))))

    def closest(self, x: float, y: float, prev: int, nxt: int) -> int:
        """DeepRacer's closest_waypoint: the nearer of the two waypoints around the car."""
        (px, py), (nx, ny) = self.waypoints[prev], self.waypoints[nxt]
        return nxt if (x - nx) ** 2 + (y - ny) ** 2 < (x - px) ** 2 + (y - py) ** 2 else prev

    def step(self, episode: int, steps: int, record: tuple, action: str, reward: float, done: bool,
             progress: float, status: str, pause: float = 0.0) -> tuple:
        x, y, yaw, steer, speed, on_track, prev, nxt, sim_time, _ = record
        return (episode, steps, x, y, yaw, steer, speed, action, float(reward), bool(done), bool(on_track),
                float(progress), self.closest(x, y, prev, nxt), self.track_len, sim_time, status, pause)

    def prepare(self, episode: int, start: tuple, first: tuple, action: str) -> tuple:
        """The episode's "prepare" row: its start pose, with the first step's command (DeepRacer logs the
        action chosen there)."""
        x, y, yaw, _, _, on_track, prev, nxt, sim_time, _ = start
        return (episode, 0, x, y, yaw, first[3], first[4], action, 0.0, False, bool(on_track), 0.0,
                self.closest(x, y, prev, nxt), self.track_len, sim_time, "prepare", 0.0)


def status_of(event, truncated: bool) -> str:
    return TRUNCATED if truncated else STATUS.get(event, event)


def csv_text(rows: list[tuple], header: bool) -> str:
    return (HEADER if header else "") + "".join(ROW % row for row in rows)


class TrainingTrace:
    """training-simtrace/: rows of every env step, buffered during a rollout and written by `flush()`.

    The rollout collector calls `on_reset` with the vector env's reset infos and `on_step` after every
    vector step; the trainer calls `flush()` after each PPO update and saves `state()` in the checkpoint.
    Training on several tracks (info["track"], info["reversed"]: agent/schedule.py), each row's
    closest_waypoint and track_len are those of the track its episode drove.
    """

    def __init__(self, run_dir: Path, track, actions: dict, envs: int,
                 episodes_per_iteration: int = EPISODES_PER_ITERATION, state: dict | None = None):
        self.folder = Path(run_dir) / "training-simtrace"
        self.rows = TraceRows(track, actions)
        self.actions = actions
        # multi-track training: each row's waypoints and track_len are its own track's (info["track"])
        self.by_track: dict[tuple, TraceRows] = {}
        self.per_iteration = episodes_per_iteration
        self.next_episode = 0
        self.written: dict[int, int] = {}  # data rows in the files that may still grow
        if state is None:
            shutil.rmtree(self.folder, ignore_errors=True)  # a new run: nothing of an earlier attempt stays
        else:
            self._cut_back(state)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.buffer: dict[int, list[tuple]] = defaultdict(list)
        self.episode, self.steps, self.start = [0] * envs, [0] * envs, [None] * envs

    def path(self, iteration: int) -> Path:
        return self.folder / f"{iteration}-iteration.csv"

    def on_reset(self, info: dict, envs=None) -> None:
        """`envs`: the run's env indices that the info's entries are, in order (default: all of them)."""
        for i, start in zip(envs if envs is not None else range(len(self.episode)), info["trace"]):
            self._begin(i, start)

    def on_step(self, actions, rewards, terminated, truncated, info: dict, envs=None) -> None:
        """One vector step: a row per env (and a prepare row before an episode's first step).

        On an env whose episode ended, `info` already holds the next episode's reset (Gymnasium's same-step
        autoreset) and the ended step is in `info["final_info"]`. `envs` as in on_reset: a rollout worker's
        steps carry its envs only.
        """
        final = info.get("final_info")
        for j, i in enumerate(envs if envs is not None else range(len(self.episode))):
            done = bool(terminated[j] or truncated[j])
            source = final if done else info
            record, episode = source["trace"][j], self.episode[i]
            rows = self.buffer[episode // self.per_iteration]
            maker = self._rows_of(source, j)
            action = maker.action(actions[j])
            if self.steps[i] == 0:
                rows.append(maker.prepare(episode, self.start[i], record, action))
            self.steps[i] += 1
            status = status_of(record[-1], bool(truncated[j] and not terminated[j]))
            rows.append(maker.step(episode, self.steps[i], record, action, rewards[j], done,
                                   source["progress"][j], status))
            if done:
                self._begin(i, info["trace"][j])

    def _rows_of(self, info: dict, env: int) -> TraceRows:
        """The TraceRows of the track env `env` drives (info["track"], info["reversed"]), else the run's track."""
        if "track" not in info or info["track"][env] is None:
            return self.rows
        key = (info["track"][env], bool(info["reversed"][env]))
        if key not in self.by_track:
            from racekit.tracks import load_track  # generated tracks are made again here: a few ms each

            if len(self.by_track) >= 32:
                self.by_track.pop(next(iter(self.by_track)))
            self.by_track[key] = TraceRows(load_track(key[0], reverse=key[1]), self.actions)
        return self.by_track[key]

    def flush(self) -> None:
        """Append the buffered rows to their iterations' files (one write per file)."""
        for iteration, rows in sorted(self.buffer.items()):
            rows.sort(key=itemgetter(0))  # each episode's rows together (the sort keeps their step order)
            path = self.path(iteration)
            new = not path.exists()
            with open(path, "a") as f:
                f.write(csv_text(rows, header=new))
            self.written[iteration] = self.written.get(iteration, 0) + len(rows)
        self.buffer.clear()
        live = self._first_live_iteration()
        self.written = {it: n for it, n in self.written.items() if it >= live}

    def state(self) -> dict:
        """What a checkpoint keeps (call it after `flush`): the files that may still grow, and their rows."""
        return {"next_episode": self.next_episode, "episodes_per_iteration": self.per_iteration,
                "first_live_iteration": self._first_live_iteration(), "rows": dict(self.written)}

    def _begin(self, env: int, start: tuple) -> None:
        self.episode[env], self.steps[env], self.start[env] = self.next_episode, 0, start
        self.next_episode += 1

    def _first_live_iteration(self) -> int:
        """Iterations before this one are complete: no running or future episode belongs to them."""
        return min([e // self.per_iteration for e in self.episode] + [self.next_episode // self.per_iteration])

    def _cut_back(self, state: dict) -> None:
        """Resuming: the files as they were at the checkpoint. Episodes that were running then end there."""
        self.next_episode = state["next_episode"]  # episodes_per_iteration is the run's own: it cannot change
        kept = {int(it): n for it, n in state["rows"].items()}
        for path in self.folder.glob("*-iteration.csv"):
            iteration = int(path.name.split("-")[0])
            if iteration >= state["first_live_iteration"]:
                truncate_rows(path, kept.get(iteration, 0))
        self.written = {it: n for it, n in kept.items() if n}


def truncate_rows(path: Path, rows: int) -> None:
    """Keep the header and the first `rows` data rows of a CSV (none: remove the file)."""
    if rows == 0:
        path.unlink(missing_ok=True)
        return
    lines = path.read_text().splitlines(keepends=True)
    if len(lines) > rows + 1 or not lines[-1].endswith("\n"):
        path.write_text("".join(lines[:rows + 1]))


class EvaluationTrace:
    """One evaluation's rows (one env, in this process): episode i is the (i+1)th lap, as DeepRacer's
    evaluations number their trials; a reset's off-track row carries its penalty as pause_duration."""

    def __init__(self, track, actions: dict):
        self.rows = TraceRows(track, actions)
        self.lines: list[tuple] = []
        self.start, self.steps, self.laps = None, 0, 0

    def on_reset(self, info: dict) -> None:
        self.start = info["trace"]

    def on_step(self, action, reward: float, terminated: bool, truncated: bool, info: dict,
                penalties: dict) -> None:
        record, label = info["trace"], self.rows.action(action)
        if self.steps == 0:
            self.lines.append(self.rows.prepare(0, self.start, record, label))
        self.steps += 1
        event, laps = record[-1], len(info["lap_times"])
        status = "lap_complete" if laps > self.laps else status_of(event, truncated and not terminated)
        put_back = event in penalties and info["termination"] != "dnf"  # a DNF ends the race instead
        self.lines.append(self.rows.step(self.laps, self.steps, record, label, reward, terminated or truncated,
                                         info["progress"], status, penalties[event] if put_back else 0.0))
        self.laps = laps

    def write(self, folder: Path) -> Path:
        """folder/evaluation-simtrace/0-iteration.csv, written whole (a temporary file renamed into place)."""
        path = Path(folder) / "evaluation-simtrace" / "0-iteration.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".0-iteration.csv.tmp")
        tmp.write_text(csv_text(self.lines, header=True))
        os.replace(tmp, path)
        return path


def evaluation_folder(run_dir: Path, global_step: int) -> Path:
    """Where the evaluation at `global_step` goes: deepracer-utils takes 14 digits (DRfC writes a timestamp)."""
    return Path(run_dir) / f"evaluation-{global_step:014d}"


def drop_evaluations_after(run_dir: Path, step: int) -> None:
    """Resuming: evaluations made after the checkpoint are redone (as in evaluations.jsonl)."""
    for folder in Path(run_dir).glob("evaluation-*"):
        match = EVALUATION.fullmatch(folder.name)
        if match and folder.is_dir() and int(match.group(1)) > step:
            shutil.rmtree(folder)


def model_metadata(actions: dict, network: str = "racekit", algorithm: str = "clipped_ppo",
                   sensors=("front-camera",), lidar_config: dict | None = None) -> dict:
    """DeepRacer's model_metadata.json for the run's network, action space and sensors (racekit's network has
    the shallow preset's layers; sensors by DeepRacer's names, with the lidar_config of a discretised one)."""
    from racekit.agent.networks import DEEPRACER_NAMES
    from racekit.sim.sensors import DEEPRACER_NAMES as SENSOR_NAMES

    if actions["type"] == "discrete":
        space = [{"steering_angle": float(steer), "speed": float(speed), "index": i}
                 for i, (steer, speed) in enumerate(actions["actions"])]
    else:
        (steer_low, steer_high), (speed_low, speed_high) = actions["steering_deg"], actions["speed_mps"]
        space = {"steering_angle": {"high": float(steer_high), "low": float(steer_low)},
                 "speed": {"high": float(speed_high), "low": float(speed_low)}}
    return {"action_space": space, "action_space_type": actions["type"],
            "sensor": [SENSOR_NAMES[s] for s in sensors],
            "neural_network": DEEPRACER_NAMES.get(network, "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"),
            "training_algorithm": algorithm, "version": "5", **({"lidar_config": lidar_config} if lidar_config else {})}


def hyperparameters(ppo, frame_stack: int, episodes_per_iteration: int) -> dict:
    """DeepRacer's hyperparameters.json from racekit's PPO settings; keys PPO has no use for get DeepRacer's
    defaults. racekit updates every envs x rollout_steps steps (racekit_ppo), not every N episodes: the value
    given as num_episodes_between_training is the sim-trace's iteration. SAC's settings (agent/sac.py) go in
    DeepRacer's SAC keys (sac_alpha: the initial one; racekit tunes it), all of them under racekit_sac."""
    if getattr(ppo, "algorithm", "ppo") == "sac":
        sac = ppo
        return {"batch_size": sac.batch_size, "discount_factor": sac.gamma, "exploration_type": "additive_noise",
                "loss_type": "mean squared error", "lr": sac.learning_rate, "sac_alpha": sac.initial_alpha,
                "num_episodes_between_training": episodes_per_iteration, "stack_size": frame_stack,
                "term_cond_avg_score": 100000.0, "term_cond_max_episodes": 100000, "racekit_sac": sac.as_dict()}
    return {"batch_size": ppo.minibatch, "beta_entropy": ppo.entropy, "discount_factor": ppo.gamma,
            "e_greedy_value": 0.05, "epsilon_steps": 10000, "exploration_type": "categorical",
            "loss_type": "mean squared error", "lr": ppo.learning_rate,
            "num_episodes_between_training": episodes_per_iteration, "num_epochs": ppo.epochs,
            "stack_size": frame_stack, "term_cond_avg_score": 100000.0, "term_cond_max_episodes": 100000,
            "racekit_ppo": ppo.as_dict()}


def write_metadata(run_dir: Path, actions: dict, ppo, frame_stack: int,
                   episodes_per_iteration: int = EPISODES_PER_ITERATION, network: str = "racekit",
                   sensors=("front-camera",), lidar_config: dict | None = None) -> None:
    """model/model_metadata.json and ip/hyperparameters.json, where DeepRacerLog looks for them (`ppo`: PPO's
    settings, or SAC's)."""
    run_dir = Path(run_dir)
    algorithm = "sac" if getattr(ppo, "algorithm", "ppo") == "sac" else "clipped_ppo"
    for path, data in ((run_dir / "model" / "model_metadata.json", model_metadata(actions, network, algorithm, sensors, lidar_config)),
                       (run_dir / "ip" / "hyperparameters.json",
                        hyperparameters(ppo, frame_stack, episodes_per_iteration))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
