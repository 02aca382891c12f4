"""`racekit console`: DeepRacer's workflow in a local browser page (racekit/console/).

    racekit console [--runs DIR] [--host 127.0.0.1] [--port 8000] [--max-trainings N] [--token TOKEN]
"""
from __future__ import annotations

from pathlib import Path

from racekit.cli import UserError


def register(subparsers) -> None:
    console = subparsers.add_parser("console", help="the browser console: models, create and train, live view "
                                                    "and curves, stop/resume, evaluate, clone, import, download, "
                                                    "flash, leaderboard")
    console.add_argument("--runs", default="runs", metavar="DIR", help="the runs folder it shows and trains into "
                                                                       "(default runs)")
    console.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default 127.0.0.1: this machine only). The console runs the "
                              "reward code it is sent: any other address needs --token")
    console.add_argument("--port", type=int, default=8000, help="(default 8000)")
    console.add_argument("--max-trainings", type=int, default=None, metavar="N",
                         help="trainings at once; more wait in a queue (default: one per two cores)")
    console.add_argument("--token", default=None, help="a secret every request must carry (required off "
                                                       "127.0.0.1; at least 12 characters)")
    console.set_defaults(func=run_console)


def run_console(args) -> int:
    from racekit.console.security import TokenRequired
    from racekit.console.server import serve

    if args.max_trainings is not None and args.max_trainings < 1:
        raise UserError(f"--max-trainings must be at least 1, got {args.max_trainings}")
    root = Path(args.runs)
    if root.exists() and not root.is_dir():
        raise UserError(f"--runs {root}: not a folder")

    def started(url: str, jobs) -> None:
        print(f"racekit console on {url} (runs in {jobs.root}, {jobs.max_trainings} training(s) at once); "
              f"Ctrl-C stops the console, not its trainings", flush=True)

    try:
        serve(root, args.host, args.port, args.max_trainings, args.token, on_start=started)
    except TokenRequired as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"--port {args.port}: cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    return 0
