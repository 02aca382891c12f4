"""Reading a run folder as it stands, a run still training included.

A run folder (agent/train.py, agent/simtrace.py, agent/logbook.py) may hold:

    config.json                                    the run's settings: track, camera, action space
    training-simtrace/N-iteration.csv              every training step, DeepRacer's sim-trace columns
    evaluation-STEP/evaluation-simtrace/0-iteration.csv    each evaluation's race
    metrics.csv                                    one row per PPO update
    evaluations.jsonl                              one line per evaluation
    checkpoints/best.pt, last.pt                   the policy
    model/model_metadata.json                      DeepRacer's action space file

Any of them may be missing (a run just started, `--no-simtrace`, a folder copied by hand) and the file being
written may end in a partial line: such lines are skipped and counted, each missing part is noted in plain
words (RunData.notes) for the report to say. What cannot be read at all (not a folder of these files, a
config.json that is not JSON, a sim-trace whose header lacks DeepRacer's columns, a file that cannot be opened)
raises AnalyzeError, one line naming the path.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from racekit.analyze import AnalyzeError

# DeepRacer's sim-trace columns (agent/simtrace.py COLUMNS); pause_duration is optional (older DeepRacer logs)
NEEDED = ["episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
          "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp", "episode_status"]
INTS = ("episode", "steps", "closest_waypoint")
FLOATS = ("X", "Y", "yaw", "steer", "throttle", "reward", "progress", "track_len", "tstamp", "pause_duration")
BOOLS = ("done", "all_wheels_on_track")
TEXTS = ("action", "episode_status")
ITERATION_FILE = re.compile(r"(\d+)-iteration\.csv")
EVALUATION_DIR = re.compile(r"evaluation-(\d{14})")
RUN_MARKERS = ("config.json", "training-simtrace", "metrics.csv", "checkpoints", "evaluations.jsonl")


class Trace:
    """Sim-trace rows as numpy columns (the names of NEEDED, pause_duration, and iteration)."""

    def __init__(self, columns: dict[str, np.ndarray], skipped: int = 0):
        self.columns = columns
        self.skipped = skipped  # partial or malformed lines left out

    @classmethod
    def empty(cls, skipped: int = 0) -> "Trace":
        columns = {name: np.zeros(0, int) for name in INTS + ("iteration",)}
        columns.update({name: np.zeros(0, float) for name in FLOATS})
        columns.update({name: np.zeros(0, bool) for name in BOOLS})
        columns.update({name: np.zeros(0, "<U1") for name in TEXTS})
        return cls(columns, skipped)

    def __len__(self) -> int:
        return len(self.columns["episode"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def subset(self, which) -> "Trace":
        return Trace({name: col[which] for name, col in self.columns.items()}, self.skipped)

    @classmethod
    def concat(cls, traces: list["Trace"]) -> "Trace":
        traces = [t for t in traces if t is not None]
        if not traces:
            return cls.empty()
        skipped = sum(t.skipped for t in traces)
        filled = [t for t in traces if len(t)]
        if not filled:
            return cls.empty(skipped)
        return cls({name: np.concatenate([t.columns[name] for t in filled]) for name in filled[0].columns},
                   skipped)

    @property
    def steps_only(self) -> "Trace":
        """The env steps: every row but the episodes' "prepare" rows."""
        return self.subset(self["episode_status"] != "prepare")


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AnalyzeError(f"{path}: cannot read it (not a text file)") from None
    except OSError as exc:
        raise AnalyzeError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None


def complete_lines(text: str) -> tuple[list[str], int]:
    """The text's lines that end in a newline, and how many did not (0 or 1: a line being written)."""
    lines = text.split("\n")
    partial = 0 if lines[-1] == "" else 1
    lines.pop()  # "" after the last newline, or the unfinished line
    return [line for line in lines if line.strip()], partial


def parse_trace(path: Path, iteration: int = 0) -> Trace:
    """One sim-trace CSV; rows of the wrong length or with bad values, and a partial last line, are skipped."""
    lines, skipped = complete_lines(read_text(path))
    if not lines:  # empty, or the header still being written
        return Trace.empty(skipped)
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    missing = [c for c in NEEDED if c not in header]
    if missing:
        raise AnalyzeError(f"{path}: not a DeepRacer sim-trace (its header lacks {', '.join(missing)})")
    rows = [r for r in csv.reader(lines[1:]) if len(r) == len(header)]
    skipped += len(lines) - 1 - len(rows)
    names = NEEDED + (["pause_duration"] if "pause_duration" in header else [])
    at = {name: header.index(name) for name in names}
    good, columns = rows, None
    while columns is None:
        try:
            columns = _columns(good, at)
        except ValueError:  # a bad value somewhere: find the rows that hold one (rare), then convert again
            good = [r for r in good if _row_ok(r, at)]
    skipped += len(rows) - len(good)
    if "pause_duration" not in columns:
        columns["pause_duration"] = np.zeros(len(good))
    columns["iteration"] = np.full(len(good), int(iteration))
    return Trace(columns, skipped)


def _columns(rows: list[list[str]], at: dict[str, int]) -> dict[str, np.ndarray]:
    columns = {}
    for name, i in at.items():
        raw = np.array([r[i].strip() for r in rows], dtype=str) if rows else np.zeros(0, "<U1")
        if name in INTS:
            columns[name] = raw.astype(float).astype(int) if len(raw) else np.zeros(0, int)
        elif name in FLOATS:
            values = raw.astype(float) if len(raw) else np.zeros(0)
            if not np.all(np.isfinite(values)):
                raise ValueError(name)
            columns[name] = values
        elif name in BOOLS:
            lowered = np.char.lower(raw)
            if not np.all(np.isin(lowered, ["true", "false", "1", "0"])):
                raise ValueError(name)
            columns[name] = np.isin(lowered, ["true", "1"])
        else:
            columns[name] = raw
    return columns


def _row_ok(row: list[str], at: dict[str, int]) -> bool:
    try:
        _columns([row], at)
        return True
    except ValueError:
        return False


def read_jsonl(path: Path) -> tuple[list[dict], int]:
    """evaluations.jsonl: its objects, and how many lines were partial or not JSON."""
    lines, skipped = complete_lines(read_text(path))
    out = []
    for line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(value, dict):
            out.append(value)
        else:
            skipped += 1
    return out, skipped


def read_metrics(path: Path) -> tuple[list[dict], int]:
    """metrics.csv rows with a whole number global_step (numbers as floats, blanks as None)."""
    lines, skipped = complete_lines(read_text(path))
    if not lines:
        return [], skipped
    rows = []
    reader = csv.DictReader(lines)
    if "global_step" not in (reader.fieldnames or []):
        raise AnalyzeError(f"{path}: not a racekit metrics.csv (no global_step column)")
    for raw in reader:
        if None in raw or any(v is None for v in raw.values()):  # too many or too few fields
            skipped += 1
            continue
        try:
            row = {k: (float(v) if v.strip() else None) for k, v in raw.items()}
            row["global_step"] = int(row["global_step"])
        except (ValueError, TypeError):
            skipped += 1
            continue
        rows.append(row)
    return rows, skipped


@dataclass
class Evaluation:
    """One evaluation race: its step (None for the laps `analyze` drove itself), its evaluations.jsonl line
    and its sim-trace (either may be missing)."""

    step: int | None
    result: dict | None = None
    trace: Trace | None = None
    path: Path | None = None

    @property
    def label(self) -> str:
        return "the driven laps" if self.step is None else f"the evaluation at step {self.step}"


@dataclass
class RunData:
    """What a run folder (or a model's driven laps) holds, as far as it could be read."""

    source: Path
    kind: str  # "run" or "model"
    name: str
    config: dict | None = None  # config.json's "run"
    track_name: str | None = None
    track: object | None = None  # racekit.tracks.Track
    actions: dict | None = None  # {"type": "continuous", steering_deg, speed_mps} or {"type": "discrete", actions}
    camera: dict | None = None
    training: Trace = field(default_factory=Trace.empty)
    iteration_files: int = 0
    metrics: list[dict] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    checkpoint: Path | None = None
    model_file: Path | None = None
    description: str = ""
    notes: list[str] = field(default_factory=list)  # what is missing or was skipped, for the report

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def actions_of(run: dict) -> dict:
    """The action space of a config.json's "run" in the checkpoint's form (ActionSpec.as_dict)."""
    if run.get("actions"):
        return {"type": "discrete", "actions": [list(map(float, a)) for a in run["actions"]]}
    steering, speed = run.get("steering_range", (-30.0, 30.0)), run.get("speed_range", (0.5, 4.0))
    return {"type": "continuous", "steering_deg": [float(v) for v in steering],
            "speed_mps": [float(v) for v in speed]}


def actions_from_metadata(path: Path) -> dict | None:
    """model/model_metadata.json (DeepRacer's form) back to the checkpoint's form."""
    try:
        meta = json.loads(read_text(path))
        space = meta["action_space"]
        if meta.get("action_space_type") == "discrete" or isinstance(space, list):
            rows = sorted(space, key=lambda a: a.get("index", 0))
            return {"type": "discrete", "actions": [[float(a["steering_angle"]), float(a["speed"])] for a in rows]}
        return {"type": "continuous",
                "steering_deg": [float(space["steering_angle"]["low"]), float(space["steering_angle"]["high"])],
                "speed_mps": [float(space["speed"]["low"]), float(space["speed"]["high"])]}
    except (AnalyzeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def camera_of(run: dict) -> dict:
    return {"width": int(run.get("camera_width", 80)), "height": int(run.get("camera_height", 60)),
            "channels": 1 if run.get("grayscale", True) else 3, "fov_deg": 120.0,
            "frame_stack": int(run.get("frame_stack", 2))}


def evaluated_track(run: dict) -> str | None:
    """The track whose evaluation sim-traces a run writes: a one-track run's track, the first of a run's
    evaluation panel (agent/panel.py), or for a run from before the panel its first track (env 0's first
    generated one)."""
    if not run.get("tracks"):
        return run.get("track")
    try:
        from racekit.agent.panel import evaluation_panel
        from racekit.agent.train import RunConfig

        return evaluation_panel(RunConfig.from_json(run))[0][0]
    except Exception:  # an older or newer config this racekit cannot rebuild: maps are left out, said so
        return None


def load_track_quietly(data: RunData, name: str | None, reverse: bool = False) -> None:
    """data.track from a track argument; a track that cannot be loaded is a note (the maps are left out)."""
    if name is None:
        data.note("the run does not say which track it drove: the track maps are left out (give --track)")
        return
    from racekit.tracks import TrackError, load_track

    try:
        data.track, data.track_name = load_track(name, reverse=reverse), name
    except (TrackError, OSError) as exc:
        data.note(f"the track {name} cannot be loaded ({str(exc).splitlines()[0]}): the track maps are left out")


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in RUN_MARKERS)


def load_run(path: Path, track: str | None = None) -> RunData:
    """A run folder as it stands now. Raises AnalyzeError for what is not a run folder or cannot be read."""
    path = Path(path)
    _check_run_folder(path)
    data = RunData(source=path, kind="run", name=path.resolve().name)
    # The order of these steps is the order of the report's notes.
    _load_config(data, path)
    _find_checkpoint(data, path)
    load_track_quietly(data, track or (evaluated_track(data.config) if data.config else None))
    _load_training(data, path)
    _load_metrics(data, path)
    _load_evaluations(data, path)
    skipped = data.training.skipped + sum(e.trace.skipped for e in data.evaluations if e.trace is not None)
    if skipped:
        data.note(f"sim-traces: {skipped} partial or malformed line{'s' if skipped != 1 else ''} skipped "
                  f"(a file being written ends in one)")
    return data


def _check_run_folder(path: Path) -> None:
    if not path.exists():
        raise AnalyzeError(f"{path}: no such run folder or model file")
    if not path.is_dir():
        raise AnalyzeError(f"{path}: not a run folder, nor a model file (.onnx or .pt)")
    if not is_run_folder(path):
        raise AnalyzeError(f"{path}: not a racekit run folder (it has no config.json, training-simtrace/, "
                           f"metrics.csv or checkpoints/)")


def _load_config(data: RunData, path: Path) -> None:
    """config.json's "run" settings, and from them (or model_metadata.json) the actions and the camera."""
    config_path = path / "config.json"
    if config_path.is_file():
        try:
            config = json.loads(read_text(config_path))
            data.config = config["run"] if isinstance(config, dict) and isinstance(config.get("run"), dict) else None
        except json.JSONDecodeError as exc:
            raise AnalyzeError(f"{config_path}: not a racekit config.json (not JSON: {exc.msg}, line {exc.lineno})") \
                from None
        if data.config is None:
            raise AnalyzeError(f"{config_path}: not a racekit config.json (no \"run\" settings in it)")
    else:
        data.note("config.json is missing: the track, camera and action space come from the other files")

    if data.config is not None:
        data.actions, data.camera = actions_of(data.config), camera_of(data.config)
    elif (path / "model" / "model_metadata.json").is_file():
        data.actions = actions_from_metadata(path / "model" / "model_metadata.json")


def _find_checkpoint(data: RunData, path: Path) -> None:
    for name in ("best.pt", "last.pt"):
        if (path / "checkpoints" / name).is_file():
            data.checkpoint = path / "checkpoints" / name
            break
    else:
        data.note("no checkpoint (checkpoints/best.pt or last.pt): the saliency maps are left out")


def _load_training(data: RunData, path: Path) -> None:
    """training-simtrace/N-iteration.csv, in iteration order, as one trace."""
    folder = path / "training-simtrace"
    files = sorted(((int(m.group(1)), p) for p in folder.glob("*-iteration.csv")
                    if (m := ITERATION_FILE.fullmatch(p.name))), key=lambda item: item[0]) if folder.is_dir() else []
    data.iteration_files = len(files)
    data.training = Trace.concat([parse_trace(p, it) for it, p in files])
    if not files:
        data.note("no training sim-trace (training-simtrace/*-iteration.csv): reward per waypoint, the training "
                  "actions, the progress per iteration and where episodes end are left out")
    elif not len(data.training):
        data.note("the training sim-trace has no complete rows yet")


def _load_metrics(data: RunData, path: Path) -> None:
    if (path / "metrics.csv").is_file():
        data.metrics, skipped = read_metrics(path / "metrics.csv")
        if skipped:
            data.note(f"metrics.csv: {skipped} partial or malformed line{'s' if skipped != 1 else ''} skipped")
    else:
        data.note("metrics.csv is missing: the per-update curves are left out")


def _load_evaluations(data: RunData, path: Path) -> None:
    """evaluations.jsonl's lines and the evaluation-STEP/ sim-traces, matched by step, in step order."""
    results = []
    if (path / "evaluations.jsonl").is_file():
        results, skipped = read_jsonl(path / "evaluations.jsonl")
        if skipped:
            data.note(f"evaluations.jsonl: {skipped} partial or malformed line{'s' if skipped != 1 else ''} skipped")
    else:
        data.note("evaluations.jsonl is missing: no evaluation has finished yet (or the run predates them)")
    by_step: dict[int, Evaluation] = {}
    for result in results:
        step = result.get("global_step")
        if isinstance(step, int):
            by_step[step] = Evaluation(step, result=result)
    for folder in sorted(path.glob("evaluation-*")):
        match = EVALUATION_DIR.fullmatch(folder.name)
        csv_path = folder / "evaluation-simtrace" / "0-iteration.csv"
        if match and csv_path.is_file():
            step = int(match.group(1))
            evaluation = by_step.setdefault(step, Evaluation(step))
            evaluation.trace, evaluation.path = parse_trace(csv_path), csv_path
    data.evaluations = [by_step[s] for s in sorted(by_step)]
    if results and not any(e.trace is not None for e in data.evaluations):
        data.note("no evaluation sim-trace (evaluation-*/evaluation-simtrace/0-iteration.csv): the evaluation "
                  "routes are left out")
