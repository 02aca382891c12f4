"""`racekit evaluate --suite robustness`: agent/robustness.py's held-out conditions, a row each, one score,
JSON and a picture (optionally stored in the leaderboard)."""
from __future__ import annotations

from pathlib import Path

from racekit.cli import UserError
from racekit.cli.train import load_driver


def run_suite(args) -> int:
    """`racekit evaluate MODEL --suite robustness`: a row per condition, the score, JSON and a picture."""
    from racekit.agent import robustness
    from racekit.tracks import DEFAULT_TRACK

    from racekit.tracking import track_argument

    for flag, value in (("--video", args.video), ("--reverse", args.reverse or None)):
        if value is not None:
            raise UserError(f"{flag} does not go with --suite (each condition sets its own)")
    if args.db is not None and not args.model.endswith(".onnx"):
        raise UserError("--db: the leaderboard knows a model by its .onnx file; export it and evaluate that")
    if args.db is not None and args.conditions:
        raise UserError("--db stores the whole suite's score: leave out --conditions")
    try:
        names = robustness.select(robustness.conditions()[0], args.conditions)
    except ValueError as exc:
        raise UserError(f"--conditions: {exc}") from None
    driver, camera, actions, trained_on, what = load_driver(args.model, args.checkpoint)
    base = args.track or (trained_on if trained_on and trained_on != "generated" else DEFAULT_TRACK)
    track = track_argument(base)
    print(f"robustness suite: {what}; base track {track.name}, {len(names)} conditions, "
          f"{args.laps} lap{'s' if args.laps != 1 else ''} each")
    print(f"{'':8}{robustness.HEADER}")
    result = robustness.run_suite(driver, camera, actions, track, laps=args.laps, names=args.conditions)
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"score: {result['score']:.1%} clean laps ({result['clean_laps']}/{result['laps']})")
    out = Path(args.out or "runs/robustness")
    json_path, png_path = robustness.write_outputs(result, out, title=f"{Path(args.model).name} on {track.name}")
    if args.json:
        Path(args.json).write_text(json_path.read_text())
    print(f"wrote {json_path} and {png_path}")
    if args.db is not None:
        import hashlib

        from racekit.cli.leaderboard import open_board
        from racekit.leaderboard.db import LeaderboardError

        sha = hashlib.sha256(Path(args.model).read_bytes()).hexdigest()
        board, path = open_board(args.db, create=True)
        with board:
            try:
                board.set_suite_score(sha, result["score"], result["clean_laps"], result["laps"],
                                      [{k: r[k] for k in ("name", "kind", "laps", "clean_laps", "offtracks")}
                                       for r in result["rows"]])
            except LeaderboardError as exc:
                raise UserError(str(exc)) from None
        print(f"stored the score with model {sha[:12]} in {path}")
    return 0
