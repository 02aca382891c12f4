"""The report: one HTML page, self-contained (images as base64 PNG data URIs, CSS inline, no scripts), a section
per part. A part that has nothing to show says what it is missing; a part that fails says so in its section and
the others are still made, so a run in any state gets its page.

Sections: Summary, Reward per waypoint, Actions, Training progress, Best laps, Where episodes end, What the
model looks at. The summary's numbers carry `data-key` attributes (iterations, episodes, ended_episodes,
steps, evaluations, updates, laps) for scripts and tests.
"""
from __future__ import annotations

import base64
import html
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from racekit.analyze import AnalyzeError
from racekit.analyze import figures as fig
from racekit.analyze import stats
from racekit.analyze.drive import MODEL_SUFFIXES, drive, open_model
from racekit.analyze.load import RunData, is_run_folder, load_run

SECTIONS = [("summary", "Summary"), ("reward", "Reward per waypoint"), ("actions", "Actions"),
            ("progress", "Training progress"), ("laps", "Best laps"), ("ends", "Where episodes end"),
            ("saliency", "What the model looks at")]
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #1d1d1f;
       background: #f4f5f7; }
header { background: #1f2933; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #c9d1d9; font-size: 14px; }
nav { margin-top: 10px; font-size: 14px; }
nav a { color: #9ecbff; margin-right: 16px; text-decoration: none; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border-radius: 8px; padding: 8px 24px 20px; margin: 18px 0;
          box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12); }
h2 { font-size: 20px; border-bottom: 1px solid #e1e4e8; padding-bottom: 6px; }
p.caption { color: #555; font-size: 14px; max-width: 980px; }
img { max-width: 100%; height: auto; display: block; margin: 10px 0; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0 12px; }
th, td { border: 1px solid #dde1e6; padding: 4px 10px; text-align: left; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.missing { background: #fff8e1; border-left: 4px solid #f2b600; padding: 8px 12px; margin: 10px 0; font-size: 14px; }
.failed { background: #fdecea; border-left: 4px solid #d62728; padding: 8px 12px; margin: 10px 0; font-size: 14px; }
ul.notes { margin: 4px 0; padding-left: 20px; }
details summary { cursor: pointer; color: #0b5cad; font-size: 14px; margin: 8px 0; }
"""
FOLD_ROWS = 20


@dataclass
class Section:
    key: str
    title: str
    parts: list[str] = field(default_factory=list)  # HTML pieces

    def image(self, data: bytes, alt: str) -> None:
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        self.parts.append(f'<img src="{uri}" alt="{html.escape(alt)}">')

    def text(self, text: str, cls: str = "caption") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>')

    def missing(self, text: str) -> None:
        self.parts.append(f'<div class="missing">Missing: {html.escape(text)}</div>')

    def table(self, header: list[str], rows: list[list], numeric: set[int] = frozenset(), fold: str | None = None
              ) -> None:
        """A table; with `fold` and more than FOLD_ROWS rows, folded away under that summary (open on a click)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{html.escape(str(v))}</td>'
                                        for i, v in enumerate(row)) + "</tr>" for row in rows)
        table = f"<table><tr>{head}</tr>{body}</table>"
        if fold and len(rows) > FOLD_ROWS:
            table = f"<details><summary>{html.escape(fold)} ({len(rows)} rows)</summary>{table}</details>"
        self.parts.append(table)

    def html(self) -> str:
        return f'<section id="{self.key}"><h2>{html.escape(self.title)}</h2>{"".join(self.parts)}</section>'


@dataclass
class Analysis:
    """The run's data and what is worked out from it once, for every section."""

    data: RunData
    sections: int
    points: int
    training: stats.Trace = None  # sorted rows of every track
    episodes: stats.Episodes = None
    iterations: stats.Iterations = None
    main: stats.Trace = None  # sorted rows of the map's track, forwards
    main_episodes: stats.Episodes = None
    laps: list = field(default_factory=list)  # every completed lap (evaluations' and training's)
    actions: dict = None

    def __post_init__(self):
        self.training = stats.sort_rows(self.data.training)
        self.episodes = stats.episodes_of(self.training)
        self.iterations = stats.iterations_of(self.training, self.episodes)
        self.main = stats.on_track(self.training, self.data.track)
        self.main_episodes = stats.episodes_of(self.main)
        others = len(self.episodes) - len(self.main_episodes)
        if self.data.track is not None and others:
            self.data.note(f"{others} of {len(self.episodes)} training episodes drove another track or the other "
                           f"way round: the maps and sections show the {len(self.main_episodes)} on "
                           f"{self.data.track_name} forwards (the track evaluations race)")
        for evaluation in self.data.evaluations:
            self.laps += stats.evaluation_laps(evaluation, self.data.track)
        if self.data.track is not None:
            self.laps += stats.training_laps(self.main, self.main_episodes)
        self.actions = self.data.actions or self._guessed_actions()

    def _guessed_actions(self) -> dict:
        rows = [t for t in [self.training] + [e.trace for e in self.data.evaluations if e.trace is not None] if len(t)]
        top = max([float(np.max(t["throttle"])) for t in rows], default=4.0)
        return {"type": "continuous", "steering_deg": [-30.0, 30.0], "speed_mps": [0.0, max(top, 0.5)]}

    @property
    def top_speed(self) -> float:
        if self.actions["type"] == "discrete":
            return float(max(a[1] for a in self.actions["actions"]))
        return float(self.actions["speed_mps"][1])

    def traced_evaluations(self) -> list:
        return [e for e in self.data.evaluations if e.trace is not None and len(e.trace)]

    def tmap(self):
        if not hasattr(self, "_tmap"):
            self._tmap = fig.TrackMap(self.data.track)
        return self._tmap


def update_unit(data) -> str:
    """What one row of the run's metrics.csv is: a PPO update, or a SAC run's rollout and the gradient updates
    made after it (agent/sac.py)."""
    if ((data.config or {}).get("algorithm") or "ppo") == "sac":
        return "SAC rollouts, each followed by its gradient updates"
    return "PPO updates"

def summary(a: Analysis, s: Section) -> None:
    d = a.data
    rows = [("source", str(d.source), None)]
    if d.description:
        rows.append(("model", d.description, None))
    if d.track is not None:
        rows.append(("track", f"{d.track_name}: {d.track.length:.1f} m, {len(d.track.waypoints)} waypoints, "
                              f"{d.track.direction}{', reversed' if d.track.reversed else ''}", None))
    space = a.actions
    if d.actions is None:
        rows.append(("action space", "unknown (no config.json or model_metadata.json): continuous assumed", None))
    elif space["type"] == "discrete":
        rows.append(("action space", f"discrete, {len(space['actions'])} actions", None))
    else:
        rows.append(("action space", f"continuous: steering {space['steering_deg'][0]:g} to "
                                     f"{space['steering_deg'][1]:g} degrees, speed {space['speed_mps'][0]:g} to "
                                     f"{space['speed_mps'][1]:g} m/s", None))
    if d.camera:
        c = d.camera
        rows.append(("camera", f"{c['width']}x{c['height']} {'grayscale' if c['channels'] == 1 else 'RGB'}, "
                               f"{c['frame_stack']} stacked frame{'s' if c['frame_stack'] != 1 else ''}", None))
    if d.kind == "run":
        e = a.episodes
        rows += [("training sim-trace iterations", len(a.iterations), "iterations"),
                 ("training episodes", len(e), "episodes"),
                 ("ended episodes", int(e.ended.sum()), "ended_episodes"),
                 ("training steps in the sim-trace", int(e.steps.sum()), "steps"),
                 ("laps completed in training", int((e.status == "lap_complete").sum()), "laps"),
                 (f"{update_unit(d)} (metrics.csv)", len(d.metrics), "updates")]
        if d.metrics:
            rows.append(("last update at env step", d.metrics[-1]["global_step"], None))
        rows.append(("evaluations", len(d.evaluations), "evaluations"))
    else:
        result = d.evaluations[0].result if d.evaluations else None
        if result:
            times = ", ".join(f"{t:.2f} s" for t in result["lap_times"]) or "none"
            rows += [("driven laps", f"{result['laps']} (lap times {times}), completion {result['completion']:.1f}%, "
                                     f"{result['offtracks']} off-tracks, {result['crashes']} crashes", None)]
    if a.laps:
        best = stats.best_laps(a.laps, 1)[0]
        rows.append(("best lap", f"{best.time:.2f} s ({best.label})", None))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td" + (f' data-key="{key}"' if key else "") +
                   f">{html.escape(str(v))}</td></tr>" for k, v, key in rows)
    s.parts.append(f"<table>{body}</table>")
    if d.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in d.notes)
        s.parts.append(f'<div class="missing"><strong>What is missing or was skipped</strong>'
                       f'<ul class="notes">{items}</ul></div>')


def reward_section(a: Analysis, s: Section) -> None:
    if a.data.kind == "model":
        s.missing("the training log: a model file has no rewards to show (analyse its run folder instead)")
        return
    if a.data.track is None:
        s.missing("the track map (the run's track cannot be loaded)")
        return
    if not len(a.main.steps_only):
        s.missing("training steps in the sim-trace (training-simtrace/) on this track")
        return
    mean, counts = stats.reward_per_waypoint(a.main, len(a.data.track.waypoints))
    s.image(fig.reward_map(a.tmap(), mean, counts), "mean reward per waypoint on the track map")
    seen = counts > 0
    s.text(f"Each waypoint is coloured by the mean reward of the training steps whose closest waypoint it is "
           f"({int(counts.sum())} steps; {int(seen.sum())} of {len(counts)} waypoints reached). Highest: waypoint "
           f"{int(np.nanargmax(mean))} ({np.nanmax(mean):.3g}); lowest: waypoint {int(np.nanargmin(mean))} "
           f"({np.nanmin(mean):.3g}).")


def actions_section(a: Analysis, s: Section) -> None:
    panels, section_rows = [], None
    steps = a.training.steps_only
    if len(steps):
        panels.append(("training (sampled actions)", steps["steer"], steps["throttle"]))
        if len(a.main.steps_only):
            section_rows = a.main.steps_only
    evaluations = a.traced_evaluations()
    if evaluations:
        last = evaluations[-1]
        rows = last.trace.steps_only
        panels.append((f"{last.label} (greedy)" if last.step is not None else "the driven laps", rows["steer"],
                       rows["throttle"]))
        if section_rows is None and a.data.track is not None:
            section_rows = stats.on_track(stats.sort_rows(last.trace), a.data.track).steps_only
    if not panels:
        s.missing("a training or evaluation sim-trace: no actions to show yet")
        return
    kind = a.actions["type"]
    s.image(fig.action_histogram(panels, a.actions), "steering by speed")
    s.text("Steering by speed: " + ("how often each action of the list was taken (bubble area)."
                                    if kind == "discrete" else "a 2-D histogram of the commanded (steering, speed)."))
    if a.data.track is None:
        s.missing("the per-section view (the track cannot be loaded)")
        return
    if section_rows is None or not len(section_rows):
        s.missing("steps on the map's track for the per-section view")
        return
    section = stats.section_of(a.data.track, section_rows["closest_waypoint"], a.sections)
    s.image(fig.sections_figure(a.tmap(), section, section_rows["steer"], section_rows["throttle"], a.actions,
                                a.sections), "actions per section of the lap")
    rows = []
    for k in range(a.sections):
        mine = section == k
        rows.append([k + 1, int(mine.sum()),
                     f"{np.mean(section_rows['steer'][mine]):+.1f}" if mine.any() else "-",
                     f"{np.mean(np.abs(section_rows['steer'][mine])):.1f}" if mine.any() else "-",
                     f"{np.mean(section_rows['throttle'][mine]):.2f}" if mine.any() else "-"])
    s.table(["section", "steps", "mean steering, deg", "mean |steering|, deg", "mean speed, m/s"], rows, {1, 2, 3, 4})
    source = "training" if len(a.main.steps_only) else a.traced_evaluations()[-1].label
    s.text(f"The lap cut in {a.sections} equal lengths from the start line; steps of {source}.")


def progress_section(a: Analysis, s: Section) -> None:
    if a.data.kind == "model":
        s.missing("the training log: a model file has no iterations (analyse its run folder instead)")
        return
    it = a.iterations
    results = [e.result for e in a.data.evaluations if e.result]
    if len(it):
        placed = [(stats.iteration_position(it, r["global_step"]), r) for r in results if "global_step" in r]
        s.image(fig.progress_figure(it, placed), "progress, completion rate and lap times per iteration")
        per = a.episodes.iteration
        s.text(f"Per sim-trace iteration ({int(np.bincount(per).max()) if len(per) else 0} episodes at most each, "
               f"DeepRacer's num_episodes_between_training): ended episodes only; evaluations (red) placed by "
               f"their env step.")
        rows = []
        for k in range(len(it)):
            times = it.lap_times[k]
            rows.append([int(it.number[k]), int(it.episodes[k]), int(it.ended[k]), int(it.steps[k]),
                         _fmt(it.mean_progress[k], "{:.1f}"), _fmt(it.completion[k], "{:.0f}%"),
                         f"{min(times):.2f}" if times else "-", _fmt(it.mean_return[k], "{:.1f}")])
        s.table(["iteration", "episodes", "ended", "steps", "mean progress, %", "completion", "best lap, s",
                 "mean return"], rows, {0, 1, 2, 3, 4, 5, 6, 7}, fold="the table per iteration")
    else:
        s.missing("the training sim-trace (training-simtrace/): no per-iteration figures")
    if a.data.metrics:
        unit = update_unit(a.data)
        s.image(fig.metrics_figure(a.data.metrics, results), f"metrics per row of metrics.csv ({unit})")
        s.text(f"metrics.csv: {len(a.data.metrics)} {unit}, to env step {a.data.metrics[-1]['global_step']}.")
    else:
        s.missing("metrics.csv rows: no per-update curves")
    if results:
        rows = [[r.get("global_step", "-"), f"{r.get('completion', 0):.0f}%",
                 ", ".join(f"{t:.2f}" for t in r.get("lap_times") or []) or "-", r.get("offtracks", "-"),
                 r.get("crashes", "-")] for r in results]
        s.table(["evaluation at step", "completion", "lap times, s", "off-tracks", "crashes"], rows, {0, 1, 3, 4},
                fold="the evaluations")
    else:
        s.missing("evaluations (evaluations.jsonl): none finished yet")


def _fmt(value: float, pattern: str) -> str:
    return pattern.format(value) if np.isfinite(value) else "-"


def laps_section(a: Analysis, s: Section) -> None:
    if a.data.track is None:
        s.missing("the track map (the track cannot be loaded)")
        return
    if not a.laps:
        s.missing("a completed lap: no evaluation or training episode has completed one yet")
        return
    best = stats.best_laps(a.laps, 3)
    s.image(fig.laps_figure(a.tmap(), best, a.top_speed), "routes of the best laps coloured by speed")
    s.text(f"The {len(best)} quickest of {len(a.laps)} completed laps (clean ones first), the line coloured by the "
           f"commanded speed; markers: where the race put the car back after leaving the track.")
    s.table(["lap", "time, s", "off-tracks", "mean speed, m/s"],
            [[lap.label, f"{lap.time:.2f}", lap.offtracks, f"{np.mean(lap.speed):.2f}"] for lap in best], {1, 2, 3})


def ends_section(a: Analysis, s: Section) -> None:
    if a.data.track is None:
        s.missing("the track map (the track cannot be loaded)")
        return
    track, ends, resets = a.data.track, [], []
    e, main = a.main_episodes, a.main
    for i in np.flatnonzero(e.ended & np.isin(e.status, stats.ENDINGS)):
        wp = main["closest_waypoint"][e.last[i]]
        ends.append((float(e.x[i]), float(e.y[i]), str(e.status[i]),
                     int(stats.section_of(track, np.array([wp]), a.sections)[0])))
    for evaluation in a.traced_evaluations():
        rows = stats.on_track(stats.sort_rows(evaluation.trace), track)
        put = np.isin(rows["episode_status"], stats.RESETS)
        for x, y, status, wp in zip(rows["X"][put], rows["Y"][put], rows["episode_status"][put],
                                    rows["closest_waypoint"][put]):
            section = int(stats.section_of(track, np.array([wp]), a.sections)[0])
            resets.append((float(x), float(y), str(status), section))
    if not ends and not resets:
        if a.data.kind == "model":
            s.text("The driven laps never left the track; a model file has no training episodes to show.")
        elif not len(a.main):
            s.missing("training episodes in the sim-trace (training-simtrace/) on this track")
        else:
            s.text("No episode has ended off the track, in a crash or stuck yet.")
        return
    s.image(fig.ends_figure(a.tmap(), ends, resets, a.sections), "where episodes ended")
    counts = {}
    for *_, status, _ in ends:
        counts[status] = counts.get(status, [0, 0])
        counts[status][0] += 1
    for *_, status, _ in resets:
        counts[status] = counts.get(status, [0, 0])
        counts[status][1] += 1
    s.table(["ending", "training episodes", "evaluation put-backs"],
            [[fig.STATUS_STYLE.get(k, ("", "", k))[2], v[0], v[1]] for k, v in sorted(counts.items())], {1, 2})
    laps = int((e.status == "lap_complete").sum())
    s.text(f"{len(ends)} training episode{'s' if len(ends) != 1 else ''} ended before the lap was done "
           f"({laps} completed it); hollow markers are where evaluations left the track and were put back.")


def saliency_section(a: Analysis, s: Section) -> None:
    from racekit.analyze.saliency import saliency_frames

    d = a.data
    if d.track is None:
        s.missing("the track (frames are rendered on it)")
        return
    if d.checkpoint is None and d.model_file is None:
        s.missing("a checkpoint (checkpoints/best.pt or last.pt) or a model file: nothing to ask")
        return
    best = stats.best_laps(a.laps, 1)
    lap = best[0] if best else None
    try:
        frames, method = saliency_frames(d.track, lap, a.points, checkpoint=d.checkpoint, model_file=d.model_file,
                                         camera=d.camera, actions=d.actions)
    except Exception as exc:  # a checkpoint being replaced, or one from an older racekit
        from racekit.agent.checkpoint import CheckpointError
        from racekit.agent.export import ExportError

        if isinstance(exc, (CheckpointError, ExportError)):
            s.missing(f"a readable checkpoint ({str(exc).splitlines()[0]})")
            return
        raise
    s.image(fig.saliency_figure(frames, method), "camera frames with saliency heat maps")
    where = (f"on the route of the best lap ({lap.label})" if lap is not None
             else "on the centre line at rest (no completed lap to follow)")
    if method == "gradient":
        how = (f"the gradient of the policy's steering output with respect to the input pixels ({d.checkpoint.name}, "
               f"PyTorch; SmoothGrad over noisy copies)")
    else:
        how = (f"occlusion through {d.model_file.name} (onnxruntime): each patch of the frame blurred in turn, "
               f"the heat is how far the steering moves")
    s.text(f"Camera frames at {len(frames)} places of the lap, {where}; above, what the model sees (the newest of its "
           f"stacked frames); below, {how}. Red: the pixels the steering depends on most (scaled per frame).")
    s.image(fig.places_map(a.tmap(), frames), "where the frames were taken")


PARTS = {"summary": summary, "reward": reward_section, "actions": actions_section, "progress": progress_section,
         "laps": laps_section, "ends": ends_section, "saliency": saliency_section}
PROGRESS = {"summary": "summary", "reward": "reward per waypoint", "actions": "action distribution",
            "progress": "progress per iteration", "laps": "best laps", "ends": "where episodes end",
            "saliency": "what the model looks at (saliency)"}


def default_out(source: Path) -> Path:
    if source.is_dir():
        return source / "report.html"
    return source.with_name(f"{source.stem}-report.html")


def build_report(source: Path, out: Path | None = None, track: str | None = None, laps: int = 2, points: int = 6,
                 sections: int = 6, progress: Callable[[str], None] | None = None,
                 checkpoint: str | None = None) -> Path:
    """Analyse a run folder (or a model file: driven for `laps` laps on `track`) into one HTML page at `out`.

    checkpoint: "best" or "last", the run's checkpoint for the saliency maps (default: best, else last).
    progress(line) hears what is being done, part by part (the command line prints it)."""
    source = Path(source)
    say = progress or (lambda _line: None)
    started = time.monotonic()
    if not source.exists():
        raise AnalyzeError(f"{source}: no such run folder or model file")
    if source.is_dir() and not is_run_folder(source):
        raise AnalyzeError(f"{source}: not a racekit run folder (it has no config.json, training-simtrace/, "
                           f"metrics.csv or checkpoints/)")
    if not source.is_dir() and source.suffix not in MODEL_SUFFIXES:
        raise AnalyzeError(f"{source}: not a run folder, nor a model file (.onnx or .pt)")
    if checkpoint is not None:
        if not source.is_dir():
            raise AnalyzeError(f"{source}: --checkpoint chooses a run folder's checkpoint; this is a model file")
        if not (source / "checkpoints" / f"{checkpoint}.pt").is_file():
            raise AnalyzeError(f"{source / 'checkpoints' / f'{checkpoint}.pt'}: no such checkpoint")
    out = Path(out) if out else default_out(source)
    if out.is_dir():
        raise AnalyzeError(f"{out}: is a folder; give the report's file name, e.g. {out / 'report.html'}")
    if not out.parent.is_dir():
        raise AnalyzeError(f"{out.parent}: no such folder for the report")
    if source.is_dir():
        if track is not None:
            from racekit.tracks import load_track

            load_track(track)  # a track asked for that does not load: TrackError, one line
        data = load_run(source, track)
        if checkpoint is not None:
            data.checkpoint = source / "checkpoints" / f"{checkpoint}.pt"
        say(f"read the run {source}: {len(data.training.steps_only)} training steps in "
            f"{data.iteration_files} sim-trace iteration files, {len(data.metrics)} updates in metrics.csv, "
            f"{len(data.evaluations)} evaluations")
    else:
        data, driver = open_model(source, track)
        say(f"driving {data.description} on {data.track_name}, {laps} lap{'s' if laps != 1 else ''}")
        result = drive(data, driver, laps)
        times = ", ".join(f"{t:.2f} s" for t in result["lap_times"]) or "no lap completed"
        say(f"  lap times {times}; {result['offtracks']} off-tracks, {result['crashes']} crashes")
    analysis = Analysis(data, sections=sections, points=points)
    built = []
    for key, title in SECTIONS:
        say(PROGRESS[key])
        section = Section(key, title)
        try:
            PARTS[key](analysis, section)
        except Exception as exc:  # one part failing leaves the others; the page says what failed
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            say(f"  {PROGRESS[key]} failed: {type(exc).__name__}: {first}")
            section.parts.append(f'<div class="failed">This part could not be made: '
                                 f'{html.escape(type(exc).__name__)}: {html.escape(first)}</div>')
        built.append(section)
    page = render_page(data, built, time.monotonic() - started)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AnalyzeError(f"{out}: cannot write the report ({exc.strerror or type(exc).__name__})") from None
    return out


def render_page(data: RunData, sections: list[Section], seconds: float) -> str:
    title = f"racekit analysis: {data.name}"
    what = "run folder" if data.kind == "run" else "model file"
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{what} {html.escape(str(data.source))}; made {stamp} in "
            f"{seconds:.1f} s by racekit analyze</p><nav>{nav}</nav></header><main>"
            + "".join(s.html() for s in sections) + "</main></body></html>\n")
