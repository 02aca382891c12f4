"""The numbers the report shows, from the sim-trace rows: episodes, iterations, laps, sections of the lap.

Episodes: the rows of one `episode` number (a "prepare" row, then its steps). An episode has ended when its last
row is `done`; the others are still running (the run is training) or were cut when a run was stopped and
resumed. Its ending is the last row's episode_status (off_track, crashed, reversed, immobilized, time_up or
lap_complete).

Multi-track and alternate-direction runs: the map figures use the rows of the map's track driven forwards: the
rows whose track_len is that track's length, in episodes whose start ("prepare" row) faces the driving
direction there (every start is on the centre line, facing its way, within 3 degrees).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racekit.analyze.load import Trace

ENDINGS = ("off_track", "crashed", "reversed", "immobilized", "time_up")
RESETS = ("off_track", "crashed", "reversed", "immobilized")  # a race puts the car back after these
REFERENCE_AHEAD = 0.14  # m: the trace's X, Y are the reference point this far ahead of the car's centre


@dataclass
class Episodes:
    """One entry per episode, numpy arrays in episode order."""

    episode: np.ndarray
    iteration: np.ndarray
    first: np.ndarray  # index of its first row in the (sorted) trace
    last: np.ndarray  # index of its last row
    steps: np.ndarray  # env steps (rows less the prepare row)
    ended: np.ndarray
    status: np.ndarray  # the last row's episode_status ("running" where not ended)
    progress: np.ndarray
    returns: np.ndarray
    time: np.ndarray  # simulated seconds at its last row
    x: np.ndarray  # where it ended (reference point)
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.episode)


def sort_rows(trace: Trace) -> Trace:
    """Rows grouped by episode, in step order (files are appended a rollout at a time)."""
    order = np.lexsort((trace["steps"], trace["episode"]))
    return trace.subset(order)


def episodes_of(trace: Trace) -> Episodes:
    """The episodes of a sorted trace (sort_rows)."""
    if not len(trace):
        z = np.zeros(0, int)
        return Episodes(z, z, z, z, z, z.astype(bool), np.zeros(0, "<U12"), *(np.zeros(0) for _ in range(5)))
    numbers, first, counts = np.unique(trace["episode"], return_index=True, return_counts=True)
    last = first + counts - 1
    prepare = trace["episode_status"] == "prepare"
    steps = counts - np.add.reduceat(prepare.astype(int), first)
    ended = trace["done"][last]
    status = np.where(ended, trace["episode_status"][last], "running")
    return Episodes(numbers, trace["iteration"][first], first, last, steps, ended, status,
                    trace["progress"][last], np.add.reduceat(trace["reward"], first), trace["tstamp"][last],
                    trace["X"][last], trace["Y"][last])


def on_track(trace: Trace, track) -> Trace:
    """The rows of `track` driven in its own direction (see the module's docstring); trace sorted."""
    if track is None or not len(trace):
        return trace.subset(np.zeros(len(trace), bool))
    same = np.abs(trace["track_len"] - track.length) < max(0.01, 1e-3 * track.length)
    same &= (trace["closest_waypoint"] >= 0) & (trace["closest_waypoint"] < len(track.waypoints))
    episodes = episodes_of(trace)
    forward = np.ones(len(trace), bool)
    prepare = trace["episode_status"][episodes.first] == "prepare"
    if np.any(prepare):
        # where the start is on this track (the row's own waypoint index is its direction's numbering)
        xy = np.column_stack([trace["X"][episodes.first], trace["Y"][episodes.first]])
        s = np.concatenate([track.project(xy[i:i + 1000])[0] for i in range(0, len(xy), 1000)])
        heading = np.asarray(track.heading_at(s), float)
        yaw = np.radians(trace["yaw"][episodes.first])
        facing = np.cos(yaw - heading) > 0
        per_row = np.repeat(np.where(prepare, facing, True), episodes.last - episodes.first + 1)
        forward = per_row
    return trace.subset(same & forward)


def section_of(track, waypoints: np.ndarray, sections: int) -> np.ndarray:
    """Section index (0..sections-1) of each waypoint index: the lap cut in equal lengths from the start line."""
    s = track.s[np.clip(waypoints, 0, len(track.s) - 1)]
    return np.minimum((s / track.length * sections).astype(int), sections - 1)


@dataclass
class Iterations:
    """Per sim-trace iteration (DeepRacer's: a fixed number of whole episodes)."""

    number: np.ndarray
    episodes: np.ndarray  # episodes that started in it
    ended: np.ndarray
    steps: np.ndarray
    mean_progress: np.ndarray  # of the ended episodes (nan where none)
    completion: np.ndarray  # % of the ended episodes that completed a lap
    mean_return: np.ndarray
    lap_times: list  # per iteration, the times of its completed laps
    cumulative_steps: np.ndarray  # env steps up to the end of each iteration (for placing evaluations)

    def __len__(self) -> int:
        return len(self.number)


def iterations_of(trace: Trace, episodes: Episodes) -> Iterations:
    numbers = np.unique(episodes.iteration) if len(episodes) else np.zeros(0, int)
    rows = []
    for it in numbers:
        mine = episodes.iteration == it
        done = mine & episodes.ended
        laps = done & (episodes.status == "lap_complete")
        rows.append((mine.sum(), done.sum(), episodes.steps[mine].sum(),
                     episodes.progress[done].mean() if done.any() else np.nan,
                     100.0 * laps.sum() / done.sum() if done.any() else np.nan,
                     episodes.returns[done].mean() if done.any() else np.nan,
                     episodes.time[laps].tolist()))
    columns = list(zip(*rows)) if rows else [[] for _ in range(7)]
    steps = np.array(columns[2], int)
    return Iterations(numbers, np.array(columns[0], int), np.array(columns[1], int), steps,
                      np.array(columns[3], float), np.array(columns[4], float), np.array(columns[5], float),
                      list(columns[6]), np.cumsum(steps))


def iteration_position(iterations: Iterations, global_step: float) -> float:
    """Where an env step count falls on the iteration axis (iteration k spans k - 0.5 .. k + 0.5)."""
    if not len(iterations):
        return float("nan")
    knots = np.concatenate([[0], iterations.cumulative_steps])
    edges = np.concatenate([iterations.number - 0.5, [iterations.number[-1] + 0.5]])
    return float(np.interp(global_step, knots, edges))


@dataclass
class Lap:
    """One lap driven: its rows (reference point, commanded speed), time, off-tracks, where it was put back."""

    label: str
    time: float
    offtracks: int
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray  # degrees
    speed: np.ndarray  # the commanded speed (the trace's throttle), m/s
    steer: np.ndarray
    waypoint: np.ndarray
    resets: list  # (x, y, status) where the race put the car back


def evaluation_laps(evaluation, track) -> list[Lap]:
    """The completed laps of an evaluation's race (its episode k is lap k + 1), timed from evaluations.jsonl
    where it has them (interpolated within the step), else from the trace's clock."""
    trace = evaluation.trace
    if trace is None or not len(trace):
        return []
    trace = sort_rows(trace)
    if track is not None:
        trace = on_track(trace, track)
    times = (evaluation.result or {}).get("lap_times") or []
    laps, start_clock = [], 0.0
    for k in np.unique(trace["episode"]):
        rows = trace.subset(trace["episode"] == k)
        steps = rows.subset(rows["episode_status"] != "prepare")
        if not len(steps):
            continue
        complete = steps["episode_status"][-1] == "lap_complete"
        end_clock = float(steps["tstamp"][-1])
        if complete:
            time = float(times[k]) if k < len(times) else end_clock - start_clock
            reset = np.isin(steps["episode_status"], RESETS)
            label = (f"driven lap {k + 1}" if evaluation.step is None
                     else f"evaluation at step {evaluation.step}, lap {k + 1}")
            laps.append(Lap(label, time,
                            int(reset.sum()), steps["X"], steps["Y"], steps["yaw"], steps["throttle"],
                            steps["steer"], steps["closest_waypoint"],
                            [(x, y, s) for x, y, s in zip(steps["X"][reset], steps["Y"][reset],
                                                          steps["episode_status"][reset])]))
        start_clock = end_clock
    return laps


def training_laps(trace: Trace, episodes: Episodes) -> list[Lap]:
    """Training episodes that completed a lap (trace: sorted rows of one track and direction)."""
    laps = []
    for i in np.flatnonzero(episodes.ended & (episodes.status == "lap_complete")):
        rows = trace.subset(slice(episodes.first[i], episodes.last[i] + 1))
        rows = rows.subset(rows["episode_status"] != "prepare")
        laps.append(Lap(f"training episode {episodes.episode[i]} (iteration {episodes.iteration[i]})",
                        float(episodes.time[i]), 0, rows["X"], rows["Y"], rows["yaw"], rows["throttle"],
                        rows["steer"], rows["closest_waypoint"], []))
    return laps


def best_laps(laps: list[Lap], count: int = 3) -> list[Lap]:
    """The quickest laps, clean ones (no off-track) first."""
    return sorted(laps, key=lambda lap: (lap.offtracks > 0, lap.time))[:count]


def reward_per_waypoint(trace: Trace, waypoints: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean reward, step count) per closest_waypoint, over the env steps of `trace` (nan where none)."""
    steps = trace.steps_only
    wp = np.clip(steps["closest_waypoint"], 0, waypoints - 1)
    counts = np.bincount(wp, minlength=waypoints)
    sums = np.bincount(wp, weights=steps["reward"], minlength=waypoints)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), counts
