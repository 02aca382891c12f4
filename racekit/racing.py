"""Races in the simulator under DeepRacer's rules, the model run through onnxruntime.

A race is a time trial, or one of DeepRacer's other race types (`Rules.race_type`): object avoidance
(boxes on the track) or head-to-bot (bot cars), placed from `Rules.seed`, so every entrant of a race
meets the same boxes or bots in the same places. (Head-to-head, two models at once, is racekit.headtohead.)

`race_and_store` is a race as `racekit race` runs it: the replay video and track map written into a
folder of its own, the result stored on the leaderboard (nothing half-written is left if the race fails).

`check_model` opens a model file with the car's own loader (hardware.model.load_policy:
the same file, the same checks, the same onnxruntime session as on the car) and then
checks that the simulator can give it what it expects (its camera's size, its lens,
mount and look: a model from DeepRacer's simulator races through DeepRacer's camera in
DeepRacer's look); every problem is a RaceError naming the file, raised before any race
starts. `race` drives the laps: an off-track puts the car back in the nearer lane with a
time penalty that counts in the lap time, more than `max_resets` resets is a DNF (the env's
race rules, sim/env.py); a crash into a box or a bot ahead costs `crash_penalty` and puts
the car back clear of it. It records the driven line, where the car left the track or
crashed, and the boxes and the bots' paths, for the track map.
"""
from __future__ import annotations

import hashlib
import math
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from racekit.agent.evaluate import MAX_RESETS
from racekit.agent.observations import split
from racekit.sim.camera import MOUNTS
from racekit.sim.car import CarSpec
from racekit.sim.looks import LOOKS
from racekit.models import action_space_of, sensor_fields
from racekit.sim import MAX_OBJECTS, RACE_TYPES
from racekit.sim.objects import BOT_SPEED, ObjectOptions

OBJECTS_DEFAULT, BOTS_DEFAULT = 6, 3  # the env's defaults (DeepRacer's)

FOV_RANGE_DEG = (10.0, 170.0)  # the lenses the simulator's camera has (sim.camera.CameraSpec)
MAX_STEERING_DEG = CarSpec().max_steering_deg
DEFAULT_MAX_RESETS = MAX_RESETS  # the evaluation's cap: a model that needs more resets is not driving


class RaceError(Exception):
    """A model or a setting that cannot be raced; str() is one line."""


@dataclass(frozen=True)
class Rules:
    laps: int = 3
    reverse: bool = False
    offtrack_penalty: float = 2.0  # seconds, DeepRacer's default
    crash_penalty: float = 5.0
    max_resets: int = DEFAULT_MAX_RESETS
    race_type: str = "time-trial"  # the env's: time-trial, object-avoidance, head-to-bot
    num_objects: int = OBJECTS_DEFAULT  # object avoidance's boxes
    object_positions: tuple = ()  # or its boxes at fixed places: (fraction of the lap, lane +1 left / -1 right)
    num_bots: int = BOTS_DEFAULT  # head-to-bot's bots, their speed (m/s) and lane changes
    bot_speed: float = BOT_SPEED
    bot_lane_changes: bool = False
    seed: int = 0  # where the boxes or bots go: the same seed, the same places for every entrant

    def __post_init__(self):
        if self.laps < 1:
            raise RaceError(f"--laps must be at least 1, got {self.laps}")
        if self.race_type not in RACE_TYPES:
            raise RaceError(f"--race-type must be one of {', '.join(RACE_TYPES)}, got {self.race_type!r}")
        for flag, value in (("--objects", self.num_objects), ("--bots", self.num_bots)):
            if not 1 <= value <= MAX_OBJECTS:
                raise RaceError(f"{flag} must be from 1 to {MAX_OBJECTS}, got {value}")
        if self.object_positions:
            if self.race_type != "object-avoidance":
                raise RaceError(f"--object-positions is for --race-type object-avoidance, not {self.race_type}")
            try:  # the env's own check: up to MAX_OBJECTS pairs of a fraction 0-1 and a lane 1 or -1
                positions = ObjectOptions(self.race_type, object_positions=self.object_positions).object_positions
            except ValueError as exc:
                raise RaceError(f"--object-positions: {exc}") from None
            object.__setattr__(self, "object_positions", positions)
            object.__setattr__(self, "num_objects", len(positions))  # the boxes are the positions
        if not (math.isfinite(self.bot_speed) and 0 < self.bot_speed <= 4.0):
            raise RaceError(f"--bot-speed must be above 0 and at most 4 m/s, got {self.bot_speed}")
        if self.seed < 0:
            raise RaceError(f"--seed must be 0 or more, got {self.seed}")
        for name, value in (("--offtrack-penalty", self.offtrack_penalty), ("--crash-penalty", self.crash_penalty)):
            if not (math.isfinite(value) and 0 <= value <= 600):
                raise RaceError(f"{name} must be between 0 and 600 seconds, got {value}")
        if self.max_resets < 0:
            raise RaceError(f"--max-resets must be 0 or more, got {self.max_resets}")

    def as_dict(self) -> dict:
        """What is stored with a result: the penalties, the reset cap, the race type, its seed and the
        options of that race type (a time trial has no boxes or bots to describe)."""
        rules = asdict(self)
        keep = {"object-avoidance": ("num_objects", "object_positions"),
                "head-to-bot": ("num_bots", "bot_speed", "bot_lane_changes")}
        if not self.object_positions:
            del rules["object_positions"]  # randomly placed boxes: stored as before fixed ones existed
        for name in ("num_objects", "object_positions", "num_bots", "bot_speed", "bot_lane_changes"):
            if name in rules and name not in keep.get(self.race_type, ()):
                del rules[name]
        return rules

    def env_kwargs(self) -> dict:
        """The env's race-type arguments (sim/env.py)."""
        return {"race_type": self.race_type, "num_objects": self.num_objects, "num_bots": self.num_bots,
                "bot_speed": self.bot_speed, "bot_lane_changes": self.bot_lane_changes,
                "object_positions": self.object_positions}

    def check_fits(self, track) -> None:
        """RaceError when the race type's boxes or bots do not fit the track with their gaps."""
        options = ObjectOptions(**self.env_kwargs())
        try:
            options.check_fits(track)
        except ValueError as exc:
            flag = "--objects" if self.race_type == "object-avoidance" else "--bots"
            raise RaceError(f"{flag} {options.count}: {str(exc).split(': ', 1)[-1]}") from None


@dataclass
class Entrant:
    """A checked model file, ready to race."""

    path: Path
    racer: str
    policy: object  # hardware.model.Policy
    sha256: str
    metadata: dict  # the file's racekit metadata (camera, action space, track, reward sha256, ...)

    @property
    def camera(self) -> dict:
        return self.metadata["camera"]

    @property
    def action_space(self) -> dict:
        return self.metadata["action_space"]


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_model(path: str | Path, racer: str | None = None) -> Entrant:
    """Load and check a model file; RaceError (one line, naming the file) if it cannot race."""
    from racekit.hardware.errors import ModelError
    from racekit.hardware.model import load_policy

    path = Path(path)
    try:
        policy = load_policy(path)
    except ModelError as exc:
        raise RaceError(str(exc)) from None
    spec = policy.spec
    cam = spec.camera
    low, high = FOV_RANGE_DEG
    if cam.fov_deg is not None and not (math.isfinite(cam.fov_deg) and low <= cam.fov_deg < high):
        raise RaceError(f"{path}: the model's camera has a {cam.fov_deg:g} degree field of view; the simulator's "
                        f"camera takes {low:g} to {high:g} degrees")
    for key, known in (("mount", MOUNTS), ("look", LOOKS)):
        name = getattr(cam, key)
        if name is not None and name not in known:
            raise RaceError(f"{path}: the model's camera {key} {name!r} is not one the simulator has "
                            f"({', '.join(known)})")
    if min(cam.width, cam.height) < 8:
        raise RaceError(f"{path}: the model's camera is {cam.width}x{cam.height}; the simulator renders 8x8 or more")
    if spec.action_space.max_steering_deg > MAX_STEERING_DEG:
        raise RaceError(f"{path}: the model steers up to {spec.action_space.max_steering_deg:g} degrees; the car's "
                        f"steering stops at {MAX_STEERING_DEG:g}")
    camera = {k: v for k, v in asdict(cam).items()  # mount and look absent: racekit's; one camera: said by nothing
              if (v is not None or k not in ("mount", "look")) and not (k == "cameras" and v == 1)}
    camera.update(sensor_fields(spec))  # a stereo pair, a LIDAR: the env gives them
    metadata = {**spec.extra, "camera": camera, "control_hz": spec.control_hz,
                "action_space": action_space_of(spec.action_space)}
    name = racer if racer is not None else path.stem
    if not name.strip() or len(name) > 64 or not name.isprintable():
        raise RaceError(f"racer name must be 1 to 64 printable characters, got {name!r}")
    return Entrant(path, name.strip(), policy, file_sha256(path), metadata)


@dataclass
class Outcome:
    """What happened in one race."""

    lap_times: list[float]
    offtracks_per_lap: list[int]
    offtracks: int
    crashes: int
    resets: int
    termination: str  # lap_complete, dnf (too many resets) or max_steps
    sim_time: float
    segments: list[list[tuple[float, float, float]]]  # the driven line (x, y, speed), broken at each reset
    incidents: list[tuple[float, float, str]]  # (x, y, "off_track" | "crash" | "reset") where it happened
    ground_image: object = field(default=None, repr=False)  # sim.texture.TrackImage of the track, for the map
    crashes_per_lap: list[int] = field(default_factory=list)  # completed laps' crashes (offtracks_per_lap: the rest)
    race_type: str = "time-trial"
    boxes: list = field(default_factory=list)  # sim.render.Box: the track's obstacles and the race's boxes
    bot_paths: list[list[tuple[float, float]]] = field(default_factory=list)  # each bot's (x, y), step by step
    progress: float = 0.0  # % of the lap being driven when the race ended (0 after its last lap)

    @property
    def dnf(self) -> bool:
        return self.termination != "lap_complete"

    @property
    def laps_driven(self) -> float:
        """Finished laps and the unfinished one's part: what crashes per lap are counted over."""
        return len(self.lap_times) + self.progress / 100


class DrivenLog:
    """One car's record of a race, kept the same way in a time trial and for each car of a heat: the driven
    line (x, y, speed), broken where the car was put back; where it left the road or crashed; each finished
    lap's off-tracks (and other resets) and crashes."""

    def __init__(self):
        self.segments: list[list[tuple[float, float, float]]] = []
        self.incidents: list[tuple[float, float, str]] = []
        self.offtracks_per_lap: list[int] = []
        self.crashes_per_lap: list[int] = []
        self._since_lap = 0  # incidents before the lap being driven

    def start(self, x: float, y: float) -> None:
        self.segments = [[(float(x), float(y), 0.0)]]

    def move(self, x: float, y: float, speed: float) -> None:
        self.segments[-1].append((float(x), float(y), float(speed)))

    def stop_at(self, x: float, y: float) -> None:
        """The line ends here (at the speed it had)."""
        self.segments[-1].append((float(x), float(y), self.segments[-1][-1][2]))

    def incident(self, x: float, y: float, kind: str) -> None:
        """Left the road or crashed ("off_track", "crash", "reset") here."""
        self.stop_at(x, y)
        self.incidents.append((float(x), float(y), kind))

    def put_back(self, x: float, y: float) -> None:
        """The line goes on from where the car was put back."""
        self.segments.append([(float(x), float(y), 0.0)])

    def lap(self) -> tuple[int, int]:
        """A lap finished: its (off-tracks, crashes), counted from the incidents since the last one."""
        since = self.incidents[self._since_lap:]
        crashed = sum(1 for *_, kind in since if kind == "crash")
        self.offtracks_per_lap.append(len(since) - crashed)
        self.crashes_per_lap.append(crashed)
        self._since_lap = len(self.incidents)
        return len(since) - crashed, crashed


def make_env(entrant: Entrant, track, rules: Rules):
    from racekit.agent.evaluate import action_bounds, camera_kwargs
    from racekit.sim.env import TimeTrialEnv
    from racekit.sim.world import PHYSICS_HZ  # as in training, also for models of another control rate

    hz = float(entrant.metadata["control_hz"])
    return TimeTrialEnv(track=track, reverse=rules.reverse, laps=rules.laps, race=True, max_resets=rules.max_resets,
                        offtrack_penalty=rules.offtrack_penalty, crash_penalty=rules.crash_penalty,
                        control_hz=hz, substeps=max(1, round(PHYSICS_HZ / hz)), info_params=True,
                        **camera_kwargs(entrant.camera), **action_bounds(entrant.action_space), **rules.env_kwargs())


def race(entrant: Entrant, track, rules: Rules, on_step: Callable | None = None) -> Outcome:
    """Race `entrant` on `track` (a tracks.Track, driven forwards unless rules.reverse).

    on_step(env, obs, info, events) is called after every control step; events is a list of
    dicts: {"kind": "lap", "lap": n, "seconds": t, "incidents": k, "offtracks": k - c, "crashes": c} or
    {"kind": "off_track" | "crash" | "reset", "lap": n, "x": .., "y": .., "penalty": s}. The boxes or bots
    are placed from rules.seed. A model that fails (hardware ModelError: onnxruntime
    error or a non-finite output) ends the race with that exception.
    """
    env = make_env(entrant, track, rules)
    penalties = {"off_track": rules.offtrack_penalty, "crash": rules.crash_penalty, "reset": rules.offtrack_penalty}
    try:
        obs, info = env.reset(seed=rules.seed, options={"start_fraction": 0.0})
        log = DrivenLog()
        log.start(*env.world.car.reference_point()[:2])
        seen = {"offtracks": 0, "crashes": 0, "resets": 0}
        states = env.objects.states()
        bots = [i for i, o in enumerate(states) if o.is_bot]
        boxes = [box for box, o in zip(env.world.standing, states) if not o.is_bot]
        bot_paths = [[(states[i].x, states[i].y)] for i in bots]
        while True:
            frames, lidar = split(obs)
            steering, speed = entrant.policy.act(frames[None], None if lidar is None else lidar[None])
            obs, _, terminated, truncated, info = env.step(np.array([steering, speed], np.float32))
            params, events = info["params"], []
            point = (float(params["x"]), float(params["y"]))
            kind = _incident(info, seen)
            if kind is not None:
                # the line ends where the car left the road and goes on from where it was put back
                log.incident(*point, kind)
                events.append({"kind": kind, "lap": len(info["lap_times"]) + 1, "x": point[0], "y": point[1],
                               "progress": info["progress"], "penalty": penalties[kind],
                               "resets": info["resets"], "dnf": info["termination"] == "dnf"})
                if info["termination"] != "dnf":
                    log.put_back(*env.world.car.reference_point()[:2])
            else:
                log.move(*point, env.world.car.speed())
            for path, i in zip(bot_paths, bots):
                path.append(tuple(info["objects"][i][:2]))
            while len(info["lap_times"]) > len(log.offtracks_per_lap):
                offtracks, crashed = log.lap()
                n = len(log.offtracks_per_lap)
                events.append({"kind": "lap", "lap": n, "seconds": info["lap_times"][n - 1],
                               "incidents": offtracks + crashed, "offtracks": offtracks, "crashes": crashed})
            if on_step is not None:
                on_step(env, obs, info, events)
            if terminated or truncated:
                break
        ground = env.world.ground_image
    finally:
        env.close()
    return Outcome(lap_times=[float(t) for t in info["lap_times"]], offtracks_per_lap=log.offtracks_per_lap,
                   offtracks=info["offtracks"], crashes=info["crashes"], resets=info["resets"],
                   termination=info["termination"], sim_time=float(info["sim_time"]), segments=log.segments,
                   incidents=log.incidents, ground_image=ground, crashes_per_lap=log.crashes_per_lap,
                   race_type=rules.race_type, boxes=boxes, bot_paths=bot_paths, progress=unfinished_lap(info))


def unfinished_lap(info: dict) -> float:
    """Outcome.progress from a car's last info: how far round the lap it was driving when its race ended."""
    return 0.0 if info["termination"] == "lap_complete" else float(info["progress"])


def _incident(info: dict, seen: dict) -> str | None:
    """What put the car back this step, from the env's counters (updates `seen`)."""
    kind = None
    if info["resets"] > seen["resets"]:
        kind = "reset"  # stuck, or driving backwards
    if info["crashes"] > seen["crashes"]:
        kind = "crash"
    if info["offtracks"] > seen["offtracks"]:
        kind = "off_track"
    seen.update({k: info[k] for k in seen})
    return kind


def slug(text: str) -> str:
    """A racer's name as a safe piece of a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:32] or "racer"


def replay_root(out: str | Path | None, board) -> Path:
    """Where replays go: `out`, else replays/ beside the leaderboard's file; made if need be (RaceError if not)."""
    folder = Path(out) if out else board.path.parent / "replays"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RaceError(f"{folder}: cannot make the replay folder ({exc.strerror or exc})") from None
    return folder


def new_replay_folder(root: Path, name: str) -> Path:
    """A fresh folder for one race's replay: <date>-<name>-<random>."""
    return Path(tempfile.mkdtemp(prefix=f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-", dir=root))


def training_run(model: Path) -> str | None:
    """The training run a model file lies in (`racekit export RUN -o RUN/model.onnx`), or None."""
    from racekit.leaderboard.db import is_training_run

    folder = Path(model).resolve().parent
    return str(folder) if is_training_run(folder) else None


@dataclass
class StoredRace:
    """A race that is on the leaderboard, with its replay."""

    run_id: int
    outcome: Outcome
    video: Path
    track_map: Path


def race_and_store(entrant: Entrant, track, rules: Rules, root: Path, size: tuple[int, int], board,
                   on_step: Callable | None = None) -> StoredRace:
    """Race `entrant`, write its replay video and track map in a new folder under `root`, and store the
    result on `board` (a leaderboard.db.Leaderboard). on_step(info, events) follows the race (as `race`'s,
    without the env). If anything fails, the folder is removed and the exception goes on."""
    folder = new_replay_folder(root, slug(entrant.racer))
    try:
        return _race_and_store(entrant, track, rules, folder, size, board, on_step)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # half a replay, linked to no result
        raise


def _race_and_store(entrant, track, rules, folder, size, board, on_step) -> StoredRace:
    from racekit import __version__
    from racekit.leaderboard.db import Run
    from racekit.replay import ReplayVideo, save_png, track_map

    direction = "reverse" if rules.reverse else "forward"
    kind = {"object-avoidance": ", object avoidance", "head-to-bot": ", head-to-bot"}.get(rules.race_type, "")
    title = f"{entrant.racer} - {track.name}{' (reverse)' if rules.reverse else ''}{kind}"
    video_path, map_path = folder / "replay.mp4", folder / "map.png"
    with ReplayVideo(video_path, size, entrant.metadata["control_hz"], entrant.camera["channels"], rules.laps,
                     title) as video:
        def each_step(env, obs, info, events):
            video.on_step(env, obs, info, events)
            if on_step is not None:
                on_step(info, events)

        outcome = race(entrant, track, rules, on_step=each_step)
    laps = "  ".join(f"{t:.2f}" for t in outcome.lap_times) or "no lap"
    space = entrant.action_space
    top = float(max(a[1] for a in space["actions"])) if space["type"] == "discrete" else float(space["speed_mps"][1])
    save_png(map_path, track_map(outcome, top, f"{title}   laps: {laps}"))
    run_id = board.add(Run(
        kind="sim", track=track.name, direction=direction, racer=entrant.racer, lap_times=outcome.lap_times,
        model_sha256=entrant.sha256, model_meta=entrant.metadata, reward_sha256=entrant.metadata.get("reward_sha256"),
        laps_planned=rules.laps, offtracks=outcome.offtracks, crashes=outcome.crashes, resets=outcome.resets,
        dnf=outcome.dnf, termination=outcome.termination, rules=rules.as_dict(), video=str(video_path.resolve()),
        track_map=str(map_path.resolve()), racekit_version=__version__, race_type=rules.race_type,
        offtracks_per_lap=outcome.offtracks_per_lap, crashes_per_lap=outcome.crashes_per_lap,
        run_dir=training_run(entrant.path)))
    return StoredRace(run_id, outcome, video_path, map_path)
