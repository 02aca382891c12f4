"""`racekit evaluate`: DeepRacer's evaluation rules on a run (PyTorch) or a .onnx file (onnxruntime, through
the car's own loader), optionally with a chase-view video; `--suite robustness` races agent/robustness.py's
held-out conditions instead (a row each, one score, JSON and a picture).
"""
from __future__ import annotations

import json
from pathlib import Path

from racekit.cli import UserError, options


def register(subparsers) -> None:
    ev = subparsers.add_parser("evaluate", help="race a run or a model file with DeepRacer's evaluation rules")
    ev.add_argument("model", metavar="RUN_OR_MODEL", help="a run directory, a checkpoint .pt or a model .onnx")
    ev.add_argument("--track", default=None, help="track to race on (default: the one it was trained on)")
    ev.add_argument("--laps", type=int, default=None, help="(default 3; 1 per condition with --suite)")
    ev.add_argument("--reverse", action="store_true", help="drive the track the other way")
    ev.add_argument("--checkpoint", choices=("best", "last"), help="of a run (default: best, else last)")
    ev.add_argument("--video", help="write a chase-view MP4 with the camera inset")
    ev.add_argument("--video-size", default="640x480", help="video size WxH (default 640x480)")
    ev.add_argument("--json", help="also write the result as JSON to this file")
    ev.add_argument("--simtrace", metavar="DIR", help="also write the race's DeepRacer sim-trace to "
                    "DIR/evaluation-simtrace/0-iteration.csv (deepracer-utils reads it)")
    ev.add_argument("--suite", choices=("robustness",), default=None,
                    help="race the robustness suite (agent/robustness.py): held-out looks, camera mounts, "
                         "dynamics, the reversed direction and unseen tracks; one score, clean laps / laps")
    ev.add_argument("--out", default=None, help="with --suite: folder for robustness.json and robustness.png "
                                                "(default runs/robustness)")
    ev.add_argument("--conditions", default=None, metavar="NAME,...",
                    help="with --suite: only these conditions (default: all)")
    ev.add_argument("--db", default=None, help="with --suite and a .onnx model: store the score with the model "
                                               "(its sha256) in this leaderboard database, shown beside its races")
    ev.set_defaults(func=run_evaluate)


def run_evaluate(args) -> int:
    from racekit.agent.evaluate import evaluate
    from racekit.models import open_driver
    from racekit.tracks import load_track

    if args.suite is None:
        for flag, value in (("--out", args.out), ("--conditions", args.conditions), ("--db", args.db)):
            if value is not None:
                raise UserError(f"{flag} is for --suite robustness")
    args.laps = args.laps if args.laps is not None else (1 if args.suite else 3)
    if args.laps < 1:
        raise UserError(f"--laps must be at least 1, got {args.laps}")
    if args.suite:
        from racekit.cli.suite import run_suite

        return run_suite(args)
    opened = open_driver(args.model, args.checkpoint)
    driver, camera, actions = opened.drive, opened.camera, opened.actions
    track_name = args.track or opened.track
    if track_name is None:
        raise UserError(f"{args.model}: it does not say which track it was trained on; give --track")
    track = load_track(track_name)  # forwards; evaluate reverses it itself
    print(f"evaluating {opened.description} on {track.name}{' (reversed)' if args.reverse else ''}, {args.laps} laps")
    simtrace = Path(args.simtrace) if args.simtrace else None
    if args.video:
        with VideoRecorder(Path(args.video), options.size(args.video_size, "--video-size"), camera) as video:
            result = evaluate(driver, track, camera, actions, laps=args.laps, reverse=args.reverse,
                              on_step=video.on_step, simtrace=simtrace)
        print(f"video written to {args.video} ({video.frames} frames)")
    else:
        result = evaluate(driver, track, camera, actions, laps=args.laps, reverse=args.reverse, simtrace=simtrace)
    if simtrace is not None:
        print(f"sim-trace written to {simtrace / 'evaluation-simtrace' / '0-iteration.csv'}")
    for i, (lap, off) in enumerate(zip(result["lap_times"], result["offtracks_per_lap"]), start=1):
        print(f"lap {i}: {lap:.2f} s, {off} off-track{'s' if off != 1 else ''}")
    if len(result["lap_times"]) < args.laps:
        print(f"lap {len(result['lap_times']) + 1}: not finished ({result['termination']})")
    mean = f"{result['mean_lap_time']:.2f} s" if result["mean_lap_time"] is not None else "-"
    print(f"completion {result['completion']:.1f}%, {result['clean_laps']}/{args.laps} clean laps, "
          f"mean lap {mean}, {result['offtracks']} off-tracks, {result['crashes']} crashes")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


class VideoRecorder:
    """The chase view with the car's camera inset and the race state, one frame per control step."""

    def __init__(self, path: Path, size: tuple[int, int], camera: dict):
        from racekit.sim.video import VideoWriter

        self.size, self.channels = size, camera["channels"]
        self.writer = VideoWriter(path, size, fps=15)
        self.frames = 0

    def on_step(self, env, obs, info) -> None:
        from racekit.sim.video import chase_frame

        lines = [f"{env.track.name}  t = {info['sim_time']:5.2f} s", f"lap {len(info['lap_times']) + 1}  "
                 f"progress {info['progress']:5.1f} %", f"speed {env.world.car.speed():4.2f} m/s  "
                 f"off-tracks {info['offtracks']}"]
        self.writer.write(chase_frame(env.world.client, env.world.car, self.size, obs, self.channels, lines))
        self.frames += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.writer.close()
