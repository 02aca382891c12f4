"""The robustness suite: a fixed, seeded list of held-out conditions a driver never trained under.

`racekit evaluate MODEL --suite robustness` races the model once (`--laps`, default 1) under each condition
below, with DeepRacer's evaluation rules (agent/evaluate.py), and scores it: clean laps over all laps.
Every condition is data: a name, a kind, what it changes (a `Randomization` whose ranges are single values,
`reverse`, or another track) and the seed its race starts from, so a model scores the same every time.

The conditions sit at or beyond the edges of the `default` training preset (sim/randomization.py):
- visual: brightness 0.6 and 1.4 (default 0.7-1.3), contrast 0.6 (0.7-1.3), a colour cast of 0.75-1.25 per
  channel (0.9-1.1; the suite's seed draws a warm cast, R 1.22, G 1.25, B 0.95), a wooden indoor floor
  under a pale road (road shade 95, default 30-80), red borders and a solid blue centre line (never in the
  default's colours);
- camera: pitched 5 degrees up and down (default +/-4), mounted 3 cm lower and higher (+/-2 cm), the field
  of view 10 degrees wider and narrower (+/-8);
- dynamics: 1 and 2 control steps of command latency (default 0-1), steering trim of +/-3 degrees (+/-2),
  tyre grip 0.6 (0.7-1.0);
- the reversed direction of the base track;
- sensors, only for a model that reads them: the stereo pair's right camera turned 2 degrees on each axis
  against the left (default 0-1), and a LIDAR with 4 cm of noise (0-2 cm) or 10% of its rays lost (0-5%);
- unseen tracks: public DeepRacer tracks from ../shared/deepracer-tracks when that folder is there (skipped,
  with a note, when it is not), and generated:1-3 (training draws generated seeds of 1,000,000 and up).

The base track of the visual, camera, dynamics and reversed conditions is the model's own track (or
`--track`; piccolo for a model trained on generated tracks).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from racekit.agent.observations import split
from racekit.sim.randomization import Randomization

PUBLIC_TRACKS = ("reinvent_base", "reInvent2019_track", "Vegas_track")  # DeepRacer's, 17-23 m
GENERATED_SEEDS = (1, 2, 3)  # below agent/schedule.py's training seeds (1,000,000 and up)
SUITE_SEED = 9  # the seed every race of the suite starts from (the randomisation's draws, if any)
FRAME_STEP = 1  # the picture's frame: the camera's view after this many steps of each race


@dataclass(frozen=True)
class Condition:
    name: str
    kind: str  # visual, camera, dynamics, direction, track
    what: str  # in words, for the table
    randomize: Randomization | None = None
    reverse: bool = False
    track: str | None = None  # None: the base track
    seed: int = SUITE_SEED

    def env_kwargs(self) -> dict:
        return {"randomize": self.randomize} if self.randomize is not None else {}


def _fixed(**fields) -> Randomization:
    """A Randomization whose every field given is one value (a range low == high), or a choice of one."""
    return Randomization(**{k: (v if isinstance(v, tuple) else (v, v)) for k, v in fields.items()})


BASE_CONDITIONS = (
    Condition("darker", "visual", "brightness 0.6", _fixed(brightness=0.6)),
    Condition("brighter", "visual", "brightness 1.4", _fixed(brightness=1.4)),
    Condition("low-contrast", "visual", "contrast 0.6", _fixed(contrast=0.6)),
    # drawn per channel from 0.75-1.25 with the suite's seed: R 1.22, G 1.25, B 0.95, a warm cast (gray: 1.20)
    Condition("colour-cast", "visual", "R, G, B gains 1.22, 1.25, 0.95", Randomization(colour_cast=(0.75, 1.25))),
    Condition("indoor-floor", "visual", "wood floor, pale road",
              _fixed(floors=("wood",), road_shade=95.0, road_texture=6.0)),
    Condition("line-colours", "visual", "red borders, blue centre line",
              _fixed(border_colours=("red",), centre_colours=("blue",), centre_lines=("solid",))),
    Condition("pitch-up", "camera", "camera pitched 5 deg up", _fixed(camera_pitch=-5.0)),
    Condition("pitch-down", "camera", "camera pitched 5 deg down", _fixed(camera_pitch=5.0)),
    Condition("mount-low", "camera", "camera 3 cm lower", _fixed(camera_height=-0.03)),
    Condition("mount-high", "camera", "camera 3 cm higher", _fixed(camera_height=0.03)),
    Condition("fov-wide", "camera", "field of view +10 deg", _fixed(camera_fov=10.0)),
    Condition("fov-narrow", "camera", "field of view -10 deg", _fixed(camera_fov=-10.0)),
    Condition("latency-1", "dynamics", "commands 1 step late", _fixed(latency=1)),
    Condition("latency-2", "dynamics", "commands 2 steps late", _fixed(latency=2)),
    Condition("trim-left", "dynamics", "steering trim +3 deg", _fixed(steering_trim=3.0)),
    Condition("trim-right", "dynamics", "steering trim -3 deg", _fixed(steering_trim=-3.0)),
    Condition("low-grip", "dynamics", "tyre friction 0.6", _fixed(tyre_friction=0.6)),
    Condition("reversed", "direction", "the base track the other way", reverse=True),
)
SENSOR_CONDITIONS = {  # sim/sensors.py's name -> the conditions of a model that reads that sensor
    "stereo-cameras": (Condition("stereo-skew", "sensor", "right camera 2 deg off the left", _fixed(stereo_skew=2.0)),),
    "lidar": (Condition("lidar-noise", "sensor", "LIDAR noise 4 cm", _fixed(lidar_noise=0.04)),
              Condition("lidar-dropout", "sensor", "10% of LIDAR rays lost", _fixed(lidar_dropout=0.10))),
}
SENSOR_CONDITIONS["sector-lidar"] = SENSOR_CONDITIONS["discretized-sector-lidar"] = SENSOR_CONDITIONS["lidar"]


def deepracer_tracks_dir() -> Path | None:
    """../shared/deepracer-tracks (beside the repository, or beside the working folder), if there."""
    here = Path(__file__).resolve().parents[1]  # the repository root (agent/ is racekit.agent)
    for candidate in (os.environ.get("RACEKIT_DEEPRACER_TRACKS"), here.parent / "shared" / "deepracer-tracks",
                      Path.cwd().parent / "shared" / "deepracer-tracks"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def conditions(tracks_dir: Path | None = None, sensors=("front-camera",)) -> tuple[list[Condition], list[str]]:
    """The whole suite for a model reading `sensors`, in order, and notes on what was left out."""
    out, notes = list(BASE_CONDITIONS), []
    for sensor in sensors:
        out += SENSOR_CONDITIONS.get(sensor, ())
    folder = tracks_dir if tracks_dir is not None else deepracer_tracks_dir()
    public = [folder / f"{name}.npy" for name in PUBLIC_TRACKS] if folder is not None else []
    present = [p for p in public if p.is_file()]
    if not present:
        notes.append("public DeepRacer tracks skipped: ../shared/deepracer-tracks is not here")
    for path in present:
        out.append(Condition(f"track-{path.stem}", "track", f"DeepRacer's {path.stem}", track=str(path)))
    for seed in GENERATED_SEEDS:
        out.append(Condition(f"generated-{seed}", "track", f"generated:{seed}", track=f"generated:{seed}"))
    return out, notes


def select(suite: list[Condition], names: str | None) -> list[Condition]:
    """The conditions named (comma-separated), in suite order; ValueError names an unknown one."""
    if not names:
        return suite
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {c.name for c in suite}
    bad = [n for n in wanted if n not in known]
    if bad:
        raise ValueError(f"unknown condition {bad[0]!r}: the suite's are {', '.join(c.name for c in suite)}")
    return [c for c in suite if c.name in wanted]


def run_suite(driver, camera: dict, action_space: dict, base_track, laps: int = 1, names: str | None = None,
              progress=print, tracks_dir: Path | None = None) -> dict:
    """Race every condition; returns {"score", "laps", "clean_laps", "rows", "notes", "frames"}.
    `frames`: name -> the camera's view (uint8 (h, w, c), the newest of the stack) early in that race."""
    from racekit.agent.evaluate import evaluate
    from racekit.tracks import load_track

    suite, notes = conditions(tracks_dir, camera.get("sensors") or ("front-camera",))
    suite = select(suite, names)
    rows, frames = [], {}
    channels = camera["channels"]
    for i, cond in enumerate(suite, 1):
        track = base_track if cond.track is None else load_track(cond.track)
        seen = {}

        def on_step(env, obs, info, seen=seen):
            seen["n"] = seen.get("n", 0) + 1
            if seen["n"] == FRAME_STEP:
                seen["frame"] = np.array(split(obs)[0][:, :, -channels:])

        result = evaluate(driver, track, camera, action_space, laps=laps, reverse=cond.reverse, seed=cond.seed,
                          on_step=on_step, env_kwargs=cond.env_kwargs())
        frame = seen.get("frame")
        if frame is not None:
            frames[cond.name] = frame
        row = {"name": cond.name, "kind": cond.kind, "what": cond.what, "track": result["track"],
               "reverse": cond.reverse, "seed": cond.seed, "laps": laps, "clean_laps": result["clean_laps"],
               "offtracks": result["offtracks"], "crashes": result["crashes"], "completion": result["completion"],
               "mean_lap_time": result["mean_lap_time"], "lap_times": result["lap_times"],
               "termination": result["termination"],
               "randomize": cond.randomize.to_text() if cond.randomize is not None else None,
               "frame_sha256": hashlib.sha256(frame.tobytes()).hexdigest() if frame is not None else None}
        rows.append(row)
        if progress is not None:
            progress(f"[{i:>2}/{len(suite):>2}] {format_row(row)}")
    total = sum(r["laps"] for r in rows)
    clean = sum(r["clean_laps"] for r in rows)
    return {"suite": "robustness", "score": clean / total if total else 0.0, "laps": total, "clean_laps": clean,
            "laps_per_condition": laps, "rows": rows, "notes": notes, "frames": frames}


HEADER = f"{'condition':<26} {'kind':<9} {'clean':>7} {'off':>4} {'compl.':>7} {'mean lap':>9}"


def format_row(row: dict) -> str:
    mean = f"{row['mean_lap_time']:.2f} s" if row["mean_lap_time"] is not None else "-"
    return (f"{row['name']:<26} {row['kind']:<9} {row['clean_laps']:>3}/{row['laps']:<3} {row['offtracks']:>4} "
            f"{row['completion']:>6.1f}% {mean:>9}")


def write_outputs(result: dict, out: Path, title: str = "") -> tuple[Path, Path]:
    """out/robustness.json (everything but the frames) and out/robustness.png (frames beside the scores)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / "robustness.json", out / "robustness.png"
    data = {k: v for k, v in result.items() if k != "frames"}
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    draw(result, png_path, title)
    return json_path, png_path


def draw(result: dict, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, frames = result["rows"], result["frames"]
    n = len(rows)
    cols = min(6, max(1, n))
    grid_rows = (n + cols - 1) // cols
    fig = plt.figure(figsize=(cols * 1.6 + 6.0, max(3.5, grid_rows * 1.45 + 1.0, n * 0.28 + 1.2)))
    spec = fig.add_gridspec(grid_rows, cols + 3)
    for i, row in enumerate(rows):
        ax = fig.add_subplot(spec[i // cols, i % cols])
        frame = frames.get(row["name"])
        if frame is not None:
            if frame.shape[2] == 1:
                ax.imshow(frame[:, :, 0], cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(frame)
        ax.set_title(row["name"], fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    bars = fig.add_subplot(spec[:, cols:])
    scores = [r["clean_laps"] / r["laps"] for r in rows]
    colours = {"visual": "#4c72b0", "camera": "#55a868", "dynamics": "#c44e52", "direction": "#8172b2",
               "track": "#ccb974"}
    y = np.arange(n)[::-1]
    bars.barh(y, scores, color=[colours.get(r["kind"], "gray") for r in rows])
    bars.set_yticks(y, [r["name"] for r in rows], fontsize=7)
    bars.yaxis.tick_right()
    bars.set_xlim(0, 1)
    bars.set_xlabel("clean laps / laps")
    bars.set_title(f"score {result['score']:.0%} ({result['clean_laps']}/{result['laps']} clean laps)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
