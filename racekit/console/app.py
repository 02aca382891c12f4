"""The console's web app: Starlette routes over the runs folder and `racekit` subprocesses.

    GET  /                          the page (static/index.html): models, create, a model, leaderboard
    GET  /assets/console.js|.css    its script and style
    /api/runs, /api/run...          the models and one model (api_runs.py); its live view (live.py); its
                                    races, robustness suites and analyses (api_tasks.py)
    /api/tracks, /api/reward/check, /api/trainings ...   the create page (api_create.py)
    /api/models/import, /api/run/export-deepracer, /api/run/clone ... models as files (api_models.py)
    /api/run/flash, /api/car/status   the car (car.py)
    GET  /leaderboard               the leaderboard page (racekit/leaderboard/web.py), whose own files and
                                    JSON are served at their own paths (/static/board.*, /api/boards, /runs/N/...)
A run id is its folder's path under the runs folder; one that leaves the runs folder is refused (404).
"""
from __future__ import annotations

import hmac
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from racekit.console import api_create, api_models, api_runs, api_tasks, car, live, runs
from racekit.console.context import Context, error
from racekit.console.forms import FieldError
from racekit.console.jobs import JobError, Jobs
from racekit.console.security import COOKIE, Guard
from racekit.console.tasks import Tasks

STATIC = Path(__file__).resolve().parent / "static"
SCRIPTS = ("common.js", "models.js", "settings.js", "create.js", "model.js", "evaluate.js", "console.js")  # in this order
ASSETS = {**{name: "text/javascript" for name in SCRIPTS}, "console.css": "text/css"}


def build_app(root: Path, jobs: Jobs | None = None, token: str | None = None, db_path: Path | None = None,
              tasks: Tasks | None = None) -> Starlette:
    """The console over the runs folder `root`; token: required on every request (a non-local bind)."""
    from racekit.leaderboard.db import default_path
    from racekit.leaderboard.web import STATIC as LEADERBOARD_STATIC
    from racekit.leaderboard.web import build_app as leaderboard_app

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    db = Path(db_path) if db_path else default_path()
    ctx = Context(root, jobs or Jobs(root), tasks or Tasks(), db)
    board = leaderboard_app(db)

    def page(name: str | Path):
        body = (STATIC / name).read_bytes()  # STATIC / an absolute path is that path
        return lambda request: Response(body, media_type="text/html; charset=utf-8",
                                         headers={"Cache-Control": "no-store"})

    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return error("not found", 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "no-store"})

    async def session(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        value = auth.partition(" ")[2].strip()
        if token is None or not hmac.compare_digest(value.encode(), token.encode()):  # the login: no Guard check
            return error("wrong token", 401)
        response = JSONResponse({"ok": True})
        response.set_cookie(COOKIE, value, max_age=30 * 24 * 3600, path="/", httponly=True, samesite="strict")
        return response

    async def on_field(request: Request, exc: FieldError) -> Response:
        return error(str(exc), 400, exc.field)

    async def on_path(request: Request, exc: runs.RunPathError) -> Response:
        return error(str(exc), 404)

    async def on_job(request: Request, exc: JobError) -> Response:
        return error(str(exc), 409)

    routes = [
        Route("/", page("index.html")), Route("/login", page("login.html")),
        Route("/leaderboard", page(LEADERBOARD_STATIC / "index.html")),
        Route("/assets/{name}", asset), Route("/api/session", session, methods=["POST"]),
        *api_runs.routes(ctx), *live.routes(ctx), *api_tasks.routes(ctx), *api_models.routes(ctx),
        *car.routes(ctx),
        *api_create.routes(ctx),
        Mount("", app=board),  # the leaderboard's own files and JSON, at the paths its page asks for
    ]
    app = Starlette(routes=routes, exception_handlers={FieldError: on_field, runs.RunPathError: on_path,
                                                       JobError: on_job})
    app.state.jobs = ctx.jobs
    login = (STATIC / "login.html").read_bytes()
    return Guard(app, token, login)
