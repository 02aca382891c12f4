"""`racekit leaderboard`: the ranked boards, export, hand-timed runs of the real car, and the web page.

    racekit leaderboard [--track T] [--race-type TYPE] [--rank best-lap|average|total] [--laps N]
    racekit leaderboard export --format csv|json [--out FILE]
    racekit leaderboard add --physical --track T --name NAME --laps 9.8,10.1,9.9 [--off-tracks N]
        [--race-type object-avoidance --crashes N]
    racekit leaderboard serve [--port 8000] [--host 127.0.0.1]
Every form takes --db PATH (default: $RACEKIT_DB, else ~/.local/share/racekit/leaderboard.sqlite).
Reading never creates the file; `add` creates it if needed.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from racekit.cli import UserError
from racekit.leaderboard.db import RACE_TYPES, default_path, open_board  # sqlite3 and json: quick to import
DB_HELP = "leaderboard file (default: $RACEKIT_DB, else ~/.local/share/racekit/leaderboard.sqlite)"


def _board_options(parser, top: bool) -> None:
    """--db/--track/--rank/--laps on `leaderboard` and again on its subcommands. On a subcommand
    the defaults are SUPPRESSed, so `leaderboard --db X export` keeps the X given before it."""
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    parser.add_argument("--db", default=default(None), metavar="PATH", help=DB_HELP)
    parser.add_argument("--track", default=default(None), metavar="TRACK", help="only this track (its name)")
    parser.add_argument("--race-type", default=default(None), choices=RACE_TYPES,
                        help="only this race type's boards (default: every race type)")
    parser.add_argument("--rank", choices=("average", "best-lap", "total"), default=default("average"),
                        help="average: best average of N consecutive laps, DeepRacer's standard (default); "
                             "best-lap; total: the first N laps")
    parser.add_argument("--laps", type=int, default=default(None), metavar="N",
                        help="N: laps a run needs to be ranked (default 3; 1 for best-lap)")


def register(subparsers) -> None:
    board = subparsers.add_parser("leaderboard", help="ranked results; export, add hand-timed runs, web page")
    _board_options(board, top=True)
    board.set_defaults(func=show)
    sub = board.add_subparsers(dest="leaderboard_command", metavar="{export,add,serve}")

    export = sub.add_parser("export", help="every result as CSV or JSON, with its position on its board")
    _board_options(export, top=False)
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument("--out", metavar="FILE", help="file to write (default: standard output)")
    export.set_defaults(func=export_results)

    add = sub.add_parser("add", help="a hand-timed run of the real car (its own board, apart from the simulator's)")
    add.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH", help=DB_HELP)
    add.add_argument("--physical", action="store_true", help="required: the run was on the real car")
    add.add_argument("--track", required=True, help="the track's name (use the simulator's name to compare)")
    add.add_argument("--name", required=True, help="racer name")
    add.add_argument("--laps", required=True, dest="lap_list", metavar="SECONDS,SECONDS,...",
                     help="lap times in seconds, in order, e.g. 9.8,10.1,9.9")
    add.add_argument("--off-tracks", type=int, default=0, metavar="N", help="(default 0)")
    add.add_argument("--race-type", default="time-trial", choices=RACE_TYPES[:3],
                     help="the race the car ran: time-trial (default), object-avoidance (boxes on the track) "
                          "or head-to-bot; each has boards of its own")
    add.add_argument("--crashes", type=int, default=0, metavar="N", help="collisions with boxes or bots (default 0)")
    add.add_argument("--reverse", action="store_true", help="the track was driven the other way")
    add.add_argument("--dnf", action="store_true", help="the run did not finish")
    add.add_argument("--model", metavar="MODEL.onnx", help="the model file the car ran (its sha256 and metadata are stored)")
    add.set_defaults(func=add_physical)

    serve = sub.add_parser("serve", help="a local web page with one board per track and the replays")
    serve.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH", help=DB_HELP)
    serve.add_argument("--port", type=int, default=8000, help="(default 8000)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                                                         "machine only; 0.0.0.0 shares it on the network)")
    serve.set_defaults(func=serve_page)


def load_boards(args, with_heats: bool = False):
    """The ranked boards (and, with_heats, the head-to-head heats) of the file, or [] if there is none."""
    from racekit.leaderboard.ranking import boards

    path = Path(args.db) if args.db else default_path()
    board = open_board(path, create=False)
    if board is None:
        return ([], [], path) if with_heats else ([], path)
    with board:
        runs = board.runs(track=args.track, race_type=args.race_type)
        args.suite_scores = board.suite_scores()
        heats = board.heats(track=args.track) if with_heats and args.race_type in (None, "head-to-head") else []
    try:
        ranked = boards(runs, args.rank, args.laps)
    except ValueError as exc:
        raise UserError(f"--laps: {exc}") from None
    return (ranked, heats, path) if with_heats else (ranked, path)


def show(args) -> int:
    ranked, heats, path = load_boards(args, with_heats=True)
    if not ranked:
        where = "".join(f" {what} {value}" for what, value in (("for track", args.track),
                                                                 ("of race type", args.race_type)) if value)
        print(f"no results{where} in {path} yet; race a model with: racekit race MODEL.onnx")
        return 0
    print(f"leaderboard {path}")
    for board in ranked:
        print(f"\n{board.title}")
        h2h = board.race_type == "head-to-head"
        print(f"  {'#':>3}  {'racer':<20} {'time':>8} {'best lap':>9} {'laps':>5} {'off-tracks':>10} {'crashes':>7}  "
              + (f"{'heat':<10}  " if h2h else "") + f"{'date':<16}  {'model':<12}  suite")
        for entry in board.entries:
            run = entry.run
            best = f"{min(run.lap_times):.2f}" if run.lap_times else "-"
            score = f"{entry.score:.2f}" if entry.score is not None else "-"
            model = (run.model_sha256 or "-")[:12]
            heat = f"{f'#{run.heat_id} P{run.heat_position}' if run.heat_id else '-':<10}  " if h2h else ""
            line = (f"  {entry.position or '-':>3}  {run.racer[:20]:<20} {score:>8} {best:>9} {len(run.lap_times):>5} "
                    f"{run.offtracks:>10} {run.crashes:>7}  {heat}{run.created[:16].replace('T', ' '):<16}  {model:<12}")
            suite = getattr(args, "suite_scores", {}).get(run.model_sha256)
            line += f"  {f'{suite:.0%}' if suite is not None else '-':>5}"
            print(line + (f"  not ranked: {entry.reason}" if entry.reason else ""))
    if heats:
        show_heats(heats, {e.run.id: e.run for b in ranked for e in b.entries})
    return 0


def show_heats(heats, runs: dict) -> None:
    """Each head-to-head heat: its finishing order, and who hit whom."""
    print("\nhead-to-head heats")
    for heat in heats:
        cars = [runs[i] for i in heat.entrants if i in runs]
        order = ", ".join(f"{r.heat_position}. {r.racer} "
                          f"({'DNF' if r.dnf else f'{sum(r.lap_times):.2f} s'})" for r in cars)
        laps = f"{heat.laps_planned} lap{'s' if heat.laps_planned != 1 else ''}"
        print(f"  heat #{heat.id} {heat.track} ({heat.direction}), {laps}, "
              f"{heat.created[:16].replace('T', ' ')}: {order}")
        names = {r.id: r.racer for r in cars}
        for c in heat.contacts:
            print(f"    {names.get(c.hitter, c.hitter)} hit {names.get(c.hit, c.hit)} at {c.sim_time:.2f} s "
                  f"(lap {c.lap}): a crash for {names.get(c.hitter, c.hitter)}")
        if not heat.contacts:
            print("    no contact between the cars")


def export_results(args) -> int:
    from racekit.leaderboard.export import to_csv, to_json

    ranked, heats, _ = load_boards(args, with_heats=True)
    text = to_csv(ranked, heats) if args.format == "csv" else to_json(ranked, heats)
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise UserError(f"{args.out}: cannot write the export ({exc.strerror or exc})") from None
        print(f"{sum(len(b.entries) for b in ranked)} results written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def parse_laps(text: str) -> list[float]:
    try:
        laps = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--laps must be lap times in seconds separated by commas, e.g. 9.8,10.1; got {text!r}") from None
    if not laps or not all(math.isfinite(t) and 0 < t < 3600 for t in laps):
        raise UserError(f"--laps must be one or more lap times above 0 and below 3600 s, got {text!r}")
    return laps


def add_physical(args) -> int:
    from racekit import __version__
    from racekit.leaderboard.db import Run

    if not args.physical:
        raise UserError("only runs of the real car are added by hand (--physical); simulated results come "
                        "from racekit race")
    laps = parse_laps(args.lap_list)
    name, track = args.name.strip(), args.track.strip()
    for flag, value in (("--name", name), ("--track", track)):
        if not value or len(value) > 64 or not value.isprintable():
            raise UserError(f"{flag} must be 1 to 64 printable characters, got {value!r}")
    for flag, value in (("--off-tracks", args.off_tracks), ("--crashes", args.crashes)):
        if value < 0:
            raise UserError(f"{flag} must be 0 or more, got {value}")
    sha, meta = None, None
    if args.model:
        from racekit.racing import check_model

        entrant = check_model(args.model, name)
        sha, meta = entrant.sha256, entrant.metadata
    run = Run(kind="physical", track=track, direction="reverse" if args.reverse else "forward", racer=name,
              lap_times=laps, model_sha256=sha, model_meta=meta,
              reward_sha256=(meta or {}).get("reward_sha256"), laps_planned=len(laps), offtracks=args.off_tracks,
              crashes=args.crashes, race_type=args.race_type, dnf=args.dnf,
              termination="dnf" if args.dnf else "lap_complete", racekit_version=__version__)
    with open_board(args.db) as board:
        run_id, path = board.add(run), board.path
    kind = "physical" if args.race_type == "time-trial" else f"physical, {args.race_type}"
    print(f"added result #{run_id} to {path}: {name} on {track} ({kind}), laps "
          + ", ".join(f"{t:.2f}" for t in laps))
    return 0


def serve_page(args) -> int:
    from racekit.leaderboard.web import serve

    with open_board(args.db) as board:  # checked (and created) before the server starts
        path = board.path
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1 to 65535, got {args.port}")
    try:
        serve(path, args.host, args.port,
              on_start=lambda url: print(f"racekit leaderboard of {path} on {url} (Ctrl-C stops)", flush=True))
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    print("leaderboard page stopped", flush=True)
    return 0
