"""`racekit race A.onnx B.onnx --head-to-head`: two models on the track at once (racekit.sim.headtohead).

Each model runs through onnxruntime as in a time trial, with the sensors it was trained with (its camera or
stereo pair, and its LIDAR) on its own car, and sees the other car in them. Two models of different sensors race
each other. The grid:
A (the first file) on the start line in the left lane, B `--stagger` m (default 1) behind in the right lane,
or with `--single-file` both on the centre line, B behind A. Each car is under race rules of its own
(laps, off-track put-back and penalties, the DNF cap); a penalty holds the car at rest while the other
drives on; a contact between the cars is a crash for the car behind (it hit the other). The finishing
order is by the time to complete the laps (penalties included); then cars that did not finish, by laps
and progress.

The heat writes one replay (OUT/<date>-<A>-vs-<B>-<id>/replay.mp4: each car's chase view side by side,
its camera inset, its lap timer, and a car with a LIDAR its scan as a time trial's replay draws it) and one
map (map.png: both driven lines in the cars' colours, the off-tracks and crashes marked), and is stored as
one heat on the leaderboard: both cars' results (race type head-to-head, each with its finishing position)
and who hit whom.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from racekit.agent.observations import split
from racekit.racing import DrivenLog, Outcome, RaceError, new_replay_folder, slug, unfinished_lap

LETTERS = "AB"


def racer_names(entrants) -> list[str]:
    names = [e.racer for e in entrants]
    if names[0] == names[1]:
        names = [f"{n[:61]} #{i}" for i, n in enumerate(names, start=1)]
    return names


def check_heat(entrants, stagger: float | None = None, single_file: bool = False):
    """The heat's grid (sim.headtohead.Grid), once the two models can race together; RaceError if not."""
    from racekit.sim.headtohead import Grid

    hz = {float(e.metadata["control_hz"]) for e in entrants}
    if len(hz) != 1:
        raise RaceError(f"--head-to-head: the models run at different control rates ({', '.join(map(str, hz))} Hz); "
                        "both cars step together")
    try:
        return Grid(1.0 if stagger is None else stagger, single_file)
    except ValueError as exc:
        raise RaceError(f"--stagger: {exc}") from None


@dataclass
class StoredHeat:
    """A heat that is on the leaderboard, with its replay."""

    heat_id: int
    run_ids: list[int]  # each car's result, A then B
    order: list[int]  # finishing order, as car indices
    contacts: list  # sim.headtohead contacts: who hit whom, where and when
    outcomes: list[Outcome]
    video: Path
    track_map: Path


def race_heat(entrants, names, track, rules, grid, root: Path, size, board,
              on_step: Callable | None = None) -> StoredHeat:
    """Race the heat, write its replay and map in a new folder under `root`, store it on `board`.
    on_step(car index, info, events) follows each car. If anything fails, the folder is removed and the
    exception goes on: nothing half stored."""
    from racekit.replay import save_png

    folder = new_replay_folder(root, f"{slug(names[0])[:20]}-vs-{slug(names[1])[:20]}")
    try:
        outcomes, order, contacts = drive_heat(entrants, track, rules, grid, folder / "replay.mp4", size, names,
                                               on_step)
        laps = "   ".join(f"{LETTERS[i]} {sum(outcomes[i].lap_times):.2f} s" if not outcomes[i].dnf
                          else f"{LETTERS[i]} DNF" for i in order)
        title = f"{names[0]} vs {names[1]} - {track.name}{' (reverse)' if rules.reverse else ''}   {laps}"
        save_png(folder / "map.png", heat_map(outcomes, names, contacts, title))
        heat_id, ids = store_heat(board, entrants, names, track, rules, grid, outcomes, order, contacts, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StoredHeat(heat_id, ids, order, contacts, outcomes, folder / "replay.mp4", folder / "map.png")


def drive_heat(entrants, track, rules, grid, video_path: Path, size, names, on_step=None):
    """Drive both cars to the end, writing the replay; returns (outcomes, finishing order, contacts)."""
    from racekit.agent.evaluate import action_bounds
    from racekit.sim.camera import CameraSpec
    from racekit.sim.headtohead import HeadToHead
    from racekit.sim.world import PHYSICS_HZ

    hz = float(entrants[0].metadata["control_hz"])
    bounds = [action_bounds(e.action_space) for e in entrants]
    low = [np.array([b["steering_range"][0], b["speed_range"][0]], np.float32) for b in bounds]
    high = [np.array([b["steering_range"][1], b["speed_range"][1]], np.float32) for b in bounds]
    # each car's camera as its model was trained with: size, channels, lens, mount and look (absent: racekit's)
    cameras = [CameraSpec(e.camera["width"], e.camera["height"], e.camera["channels"],
                          float(e.camera.get("fov_deg") or CameraSpec.fov_deg)) for e in entrants]
    driven = track.reverse() if rules.reverse else track  # the stored name is the track's own
    heat = HeadToHead(driven, cameras, [e.camera["frame_stack"] for e in entrants], laps=rules.laps,
                      offtrack_penalty=rules.offtrack_penalty, crash_penalty=rules.crash_penalty,
                      max_resets=rules.max_resets, control_hz=hz, substeps=max(1, round(PHYSICS_HZ / hz)), grid=grid,
                      max_speed=float(max(h[1] for h in high)),
                      mounts=[e.camera.get("mount") or "racekit" for e in entrants],
                      looks=[e.camera.get("look") or "racekit" for e in entrants],
                      sensors=[e.camera.get("sensors") or ["front-camera"] for e in entrants],
                      lidar_configs=[e.camera.get("lidar_config") for e in entrants])
    logs = [CarLog() for _ in entrants]
    try:
        obs, infos = heat.reset()
        for log, info in zip(logs, infos):
            log.start(info["x"], info["y"])
        with HeatVideo(video_path, size, hz, [e.camera["channels"] for e in entrants], rules.laps, names) as video:
            video.on_step(heat, obs, infos)
            done = False
            while not done:
                actions = []
                for i, entrant in enumerate(entrants):
                    if infos[i]["termination"] is not None:
                        actions.append((0.0, 0.0))
                        continue
                    frames, lidar = split(obs[i])
                    steering, speed = entrant.policy.act(frames[None], None if lidar is None else lidar[None])
                    actions.append(tuple(np.clip(np.array([steering, speed], np.float32), low[i], high[i])))
                obs, infos, done = heat.step(actions)
                for i, info in enumerate(infos):
                    events = logs[i].on_step(info) if not logs[i].closed else []
                    if on_step is not None:
                        on_step(i, info, events)
                video.on_step(heat, obs, infos, heat.standings())
        ground = heat.world.ground_image
        order = heat.standings()
        contacts = list(heat.contacts)
    finally:
        heat.close()
    outcomes = [Outcome(lap_times=list(info["lap_times"]), offtracks_per_lap=log.offtracks_per_lap,
                        offtracks=info["offtracks"], crashes=info["crashes"], resets=info["resets"],
                        termination=info["termination"], sim_time=info["finish_time"] or info["sim_time"],
                        segments=log.segments, incidents=log.incidents, ground_image=ground,
                        crashes_per_lap=log.crashes_per_lap, race_type="head-to-head",
                        progress=unfinished_lap(info))
                for log, info in zip(logs, infos)]
    return outcomes, order, contacts


def store_heat(board, entrants, names, track, rules, grid, outcomes, order, contacts, folder: Path):
    """The heat and both cars' results on the leaderboard; returns (heat id, result ids)."""
    from racekit import __version__
    from racekit.leaderboard.db import Contact, Heat, Run

    video_path, map_path = folder / "replay.mp4", folder / "map.png"
    direction = "reverse" if rules.reverse else "forward"
    stored_rules = {**rules.as_dict(), "race_type": "head-to-head", "stagger": grid.stagger,
                    "single_file": grid.single_file}
    stored_rules.pop("seed", None)  # nothing on the track is placed at random
    positions = {car: position for position, car in enumerate(order, start=1)}
    runs = [Run(kind="sim", track=track.name, direction=direction, racer=name, lap_times=o.lap_times,
                model_sha256=e.sha256, model_meta=e.metadata, reward_sha256=e.metadata.get("reward_sha256"),
                laps_planned=rules.laps, offtracks=o.offtracks, crashes=o.crashes, resets=o.resets, dnf=o.dnf,
                termination=o.termination, rules=stored_rules, video=str(video_path.resolve()),
                track_map=str(map_path.resolve()), racekit_version=__version__, race_type="head-to-head",
                offtracks_per_lap=o.offtracks_per_lap, crashes_per_lap=o.crashes_per_lap,
                heat_position=positions[i])
            for i, (e, name, o) in enumerate(zip(entrants, names, outcomes))]
    stored = Heat(track=track.name, direction=direction, laps_planned=rules.laps, rules=stored_rules,
                  video=str(video_path.resolve()), track_map=str(map_path.resolve()), racekit_version=__version__)
    return board.add_heat(stored, runs, [Contact(c.sim_time, c.lap, c.hitter, c.hit, c.x, c.y) for c in contacts])


class CarLog(DrivenLog):
    """One car's DrivenLog (as racing.race keeps it), fed from the heat's infos and their events."""

    def __init__(self):
        super().__init__()
        self.closed = False  # the car is done

    def on_step(self, info) -> list[dict]:
        """Log one step; returns its events (a lap's with its off-track and crash counts), as racing.race's."""
        events, put_back = [], False
        for event in info["events"]:
            if event["kind"] == "lap":
                offtracks, crashed = self.lap()
                events.append({**event, "offtracks": offtracks, "crashes": crashed})
                if info["termination"] is not None:
                    self.stop_at(event["x"], event["y"])
            else:  # where it left the road (or hit the other car) ...
                self.incident(event["x"], event["y"], event["kind"])
                events.append(event)
                put_back = not event["dnf"]
        if info["termination"] is not None:
            self.closed = True
        elif put_back:  # ... and the line goes on from where it was put back
            self.put_back(info["x"], info["y"])
        else:
            self.move(info["x"], info["y"], info["speed"])
        return events


class HeatVideo:
    """The heat's replay: each car's chase view side by side, its camera inset, lap timer and place."""

    def __init__(self, path: Path, size, fps: float, channels: list[int], laps: int, names: list[str]):
        from racekit.sim.video import VideoWriter

        self.writer = VideoWriter(path, size, fps=fps)
        self.size, self.channels, self.laps, self.names = size, channels, laps, names
        self.half = (max(16, size[0] // 2), size[1])
        self.last: list[np.ndarray | None] = [None, None]
        self.ended = [False, False]

    def on_step(self, heat, obs, infos, order=(0, 1)) -> None:
        from racekit.replay import draw_scan
        from racekit.sim.camera import chase_camera
        from racekit.sim.video import compose

        halves = []
        for i, (racer, info) in enumerate(zip(heat.racers, infos)):
            if racer.parked and self.last[i] is not None:  # done: its last picture, with where it finished
                if not self.ended[i]:
                    self.ended[i] = True
                    position = list(order).index(i) + 1
                    finished = info["termination"] == "lap_complete"
                    self.last[i] = self.last[i].copy()
                    _banner(self.last[i], f"FINISHED P{position}" if finished else "DNF",
                            (20, 120, 40) if finished else (110, 110, 110))
                halves.append(self.last[i])
                continue
            done = info["lap_times"]
            clock = info["sim_time"] - sum(done)
            lines = [f"{LETTERS[i]} {self.names[i]}",
                     f"lap {min(len(done) + 1, self.laps)}/{self.laps}  {clock:6.2f} s"]
            if done:
                lines.append(f"last {done[-1]:.2f} s")
            lines.append(f"P{list(order).index(i) + 1}  off {info['offtracks']}  crash {info['crashes']}")
            view = chase_camera(heat.world.client, racer.car, *self.half)
            if racer.sensors.ranges is not None:  # a LIDAR: its scan in the corner, as a time trial's replay
                view = draw_scan(view, racer.sensors.ranges)
            frame = compose(view, split(obs[i])[0][:, :, -self.channels[i]:], lines)
            self.last[i] = frame.copy()
            if info["holding"]:
                _banner(frame, "PENALTY", (200, 20, 20))
            halves.append(frame)
        self.writer.write(np.hstack(halves))

    def close(self) -> None:
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _banner(frame: np.ndarray, text: str, rgb) -> None:
    import cv2

    scale = frame.shape[1] / 360
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    x, y = (frame.shape[1] - w) // 2, frame.shape[0] // 2
    cv2.rectangle(frame, (x - 6, y - h - 6), (x + w + 6, y + 6), rgb, -1)
    cv2.putText(frame, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)


def heat_map(outcomes, names, contacts, title: str, max_side: int = 900) -> np.ndarray:
    """The map of a heat: both driven lines in the cars' colours, every incident marked; a contact's crash
    marker has a ring of the hitter's colour."""
    import cv2

    from racekit.replay import _legend, draw_incident, map_canvas
    from racekit.sim.headtohead import CAR_RGB

    canvas = map_canvas(outcomes[0].ground_image, max_side)
    thickness = max(2, round(0.03 * canvas.px_per_m))
    for outcome, rgb in zip(outcomes, CAR_RGB):
        for segment in outcome.segments:
            if len(segment) < 2:
                continue
            pixels = canvas.to_pixels(np.array([(x, y) for x, y, _ in segment])).astype(np.int32)
            cv2.polylines(canvas.image, [pixels.reshape(-1, 1, 2)], False, rgb, thickness, cv2.LINE_AA)
    radius = max(5, round(0.07 * canvas.px_per_m))
    for outcome in outcomes:
        for x, y, kind in outcome.incidents:
            cx, cy = (int(v) for v in canvas.to_pixels((x, y)))
            draw_incident(canvas.image, cx, cy, radius, kind)
    for c in contacts:
        cx, cy = (int(v) for v in canvas.to_pixels((c.x, c.y)))
        cv2.circle(canvas.image, (cx, cy), int(radius * 1.8), CAR_RGB[c.hitter], 2, cv2.LINE_AA)
    lines = [(rgb, f"{letter} {name}") for rgb, letter, name in zip(CAR_RGB, LETTERS, names)]
    return np.vstack([canvas.image, _legend(canvas.image.shape[1], None, title, lines)])
