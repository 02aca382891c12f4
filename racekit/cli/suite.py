"""`racekit evaluate --suite robustness`: agent/robustness.py's held-out conditions, a row each, one score,
JSON and a picture (optionally stored in the leaderboard). The work is racekit/suite.py's."""
from __future__ import annotations

from pathlib import Path

from racekit.cli import UserError


def run_suite(args) -> int:
    """`racekit evaluate MODEL --suite robustness`: a row per condition, the score, JSON and a picture."""
    from racekit.agent import robustness
    from racekit.suite import race_suite, store_score

    for flag, value in (("--video", args.video), ("--reverse", args.reverse or None)):
        if value is not None:
            raise UserError(f"{flag} does not go with --suite (each condition sets its own)")
    if args.db is not None and not args.model.endswith(".onnx"):
        raise UserError("--db: the leaderboard knows a model by its .onnx file; export it and evaluate that")
    if args.db is not None and args.conditions:
        raise UserError("--db stores the whole suite's score: leave out --conditions")

    def started(driver, track) -> None:
        sensors = driver.camera.get("sensors") or ("front-camera",)  # a LIDAR or a stereo pair has conditions
        try:
            names = robustness.select(robustness.conditions(sensors=sensors)[0], args.conditions)
        except ValueError as exc:
            raise UserError(f"--conditions: {exc}") from None
        print(f"robustness suite: {driver.description}; base track {track.name}, {len(names)} conditions, "
              f"{args.laps} lap{'s' if args.laps != 1 else ''} each")
        print(f"{'':8}{robustness.HEADER}")

    run = race_suite(args.model, args.checkpoint, args.track, laps=args.laps, conditions=args.conditions,
                     on_start=started)
    result = run.result
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"score: {result['score']:.1%} clean laps ({result['clean_laps']}/{result['laps']})")
    out = Path(args.out or "runs/robustness")
    json_path, png_path = robustness.write_outputs(result, out, title=f"{Path(args.model).name} on {run.track.name}")
    if args.json:
        Path(args.json).write_text(json_path.read_text())
    print(f"wrote {json_path} and {png_path}")
    if args.db is not None:
        sha, path = store_score(args.db, args.model, result)
        print(f"stored the score with model {sha[:12]} in {path}")
    return 0
