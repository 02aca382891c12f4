"""The leaderboard's web page: Starlette routes and a uvicorn server, local by default.

    GET /                         the page (static/index.html): one board per track, direction, race type
                                  and kind
    GET /static/board.js|.css     its script and style
    GET /api/boards?rank=&laps=   the ranked boards as JSON
    GET /runs/ID/replay.mp4       a run's replay video (Range requests: the browser can seek)
    GET /runs/ID/map.png          a run's track map
Only files a stored result links to are served, looked up by the result's id: a
request names no path. The database is opened per request, so results of races
running beside the server show up on the next load.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from racekit.hardware.server.threaded import ThreadedServer, bind
from racekit.leaderboard.db import Leaderboard, LeaderboardError, Run, is_training_run
from racekit.leaderboard.export import heat_record
from racekit.leaderboard.ranking import RACE_TYPE_TITLES, RANKS, boards

STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {"board.js": "text/javascript", "board.css": "text/css"}


def servable(path: str | None, name: str) -> bool:
    """A stored link is served only if it is a file of the kind a race writes (.mp4 video, .png map):
    a hand-edited database cannot turn the page into a way to read other files."""
    return bool(path) and Path(path).suffix == Path(name).suffix and os.path.isfile(path)


def _entry(entry, heats: dict, names: dict, suite: dict | None = None) -> dict:
    run: Run = entry.run
    heat = heats.get(run.heat_id)

    def link(path: str | None, name: str) -> str | None:
        return f"/runs/{run.id}/{name}" if servable(path, name) else None

    return {"id": run.id, "position": entry.position, "score": entry.score, "reason": entry.reason,
            "racer": run.racer, "lap_times": run.lap_times, "best_lap": min(run.lap_times) if run.lap_times else None,
            "offtracks": run.offtracks, "crashes": run.crashes, "resets": run.resets, "dnf": run.dnf,
            "created": run.created, "model_sha256": run.model_sha256, "reward_sha256": run.reward_sha256,
            "laps_planned": run.laps_planned, "video": link(run.video, "replay.mp4"),
            "map": link(run.track_map, "map.png"), "race_type": run.race_type,
            "offtracks_per_lap": run.offtracks_per_lap, "crashes_per_lap": run.crashes_per_lap,
            "heat": heat_record(run, heat, names) if heat is not None else None,
            "suite_score": (suite or {}).get(run.model_sha256),
            "analysis": f"/runs/{run.id}/report.html" if is_training_run(run.run_dir) else None}


def build_app(db_path: Path) -> Starlette:
    return Starlette(routes=[*_page_routes(), Route("/api/boards", _boards_endpoint(db_path)),
                             *_run_routes(db_path)])


def _page_routes() -> list[Route]:
    """The page and its script and style."""
    page = (STATIC / "index.html").read_bytes()

    def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_TYPES:
            return JSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(STATIC / name, media_type=STATIC_TYPES[name])

    return [Route("/", index), Route("/static/{name}", static)]


def _boards_endpoint(db_path: Path):
    """GET /api/boards: the ranked boards as JSON."""

    def api_boards(request: Request) -> Response:
        rank = request.query_params.get("rank", "average")
        laps = request.query_params.get("laps") or None
        if rank not in RANKS:
            return JSONResponse({"error": f"rank must be one of {', '.join(RANKS)}"}, status_code=400)
        try:
            n = int(laps) if laps is not None else None
            with Leaderboard(db_path) as board:
                ranked = boards(board.runs(), rank, n)
                heats = {h.id: h for h in board.heats()}
                suite = board.suite_scores()
        except ValueError:
            return JSONResponse({"error": "laps must be a whole number of at least 1"}, status_code=400)
        except LeaderboardError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        names = {e.run.id: e.run.racer for b in ranked for e in b.entries}
        return JSONResponse({"db": str(db_path), "rank": rank, "laps": ranked[0].laps if ranked else n,
                             "boards": [{"key": b.key, "title": b.title, "kind": b.kind, "track": b.track,
                                         "direction": b.direction, "race_type": b.race_type,
                                         "race_type_title": RACE_TYPE_TITLES[b.race_type],
                                         "entries": [_entry(e, heats, names, suite) for e in b.entries]}
                                        for b in ranked]})

    return api_boards


def _run_routes(db_path: Path) -> list[Route]:
    """A stored result's files: its replay video, its track map, its training run's report."""

    def stored_run(request: Request) -> Run | None:
        """The result the URL names (None if there is none); LeaderboardError if the file cannot be read."""
        with Leaderboard(db_path) as board:
            return board.get(request.path_params["run_id"])

    def run_file(attribute: str, name: str, media_type: str):
        def endpoint(request: Request) -> Response:
            try:
                run = stored_run(request)
            except LeaderboardError as exc:
                return JSONResponse({"error": str(exc)}, status_code=500)
            path = getattr(run, attribute) if run is not None else None
            if not servable(path, name):
                return JSONResponse({"error": "no such file for this result"}, status_code=404)
            return FileResponse(path, media_type=media_type)
        return endpoint

    def analysis(request: Request) -> Response:
        """The run's `racekit analyze` report: RUN/report.html, made on first asking (some seconds)."""
        try:
            run = stored_run(request)
        except LeaderboardError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        if run is None or not is_training_run(run.run_dir):
            return JSONResponse({"error": "no training run is known for this result"}, status_code=404)
        report = Path(run.run_dir) / "report.html"
        if not report.is_file():
            from racekit.analyze.report import build_report

            try:
                build_report(Path(run.run_dir), report)
            except Exception as exc:  # the report is an extra: the page says why there is none, and goes on
                return JSONResponse({"error": f"{run.run_dir}: no report ({exc})"}, status_code=500)
        return FileResponse(report, media_type="text/html; charset=utf-8")

    return [
        Route("/runs/{run_id:int}/replay.mp4", run_file("video", "replay.mp4", "video/mp4")),
        Route("/runs/{run_id:int}/map.png", run_file("track_map", "map.png", "image/png")),
        Route("/runs/{run_id:int}/report.html", analysis),
    ]


def make_server(db_path: Path, quiet: bool = False) -> uvicorn.Server:
    config = uvicorn.Config(build_app(db_path), lifespan="off", access_log=not quiet,
                            log_level="warning" if quiet else "info", timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def serve(db_path: Path, host: str = "127.0.0.1", port: int = 8000, on_start: Callable | None = None) -> None:
    """Serve until Ctrl-C; OSError if the port cannot be had. on_start(url) once it is listening."""
    sock = bind(host, port)
    if on_start is not None:
        on_start(f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/")
    try:
        make_server(db_path).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on: the normal way to stop a server
        pass
    finally:
        sock.close()


class BackgroundServer(ThreadedServer):
    """The page served from a thread on an ephemeral port (tests, tools); a context manager."""

    def __init__(self, db_path: Path, host: str = "127.0.0.1", start_timeout_s: float = 10.0):
        super().__init__(make_server(Path(db_path), quiet=True), host, "leaderboard page", start_timeout_s)
