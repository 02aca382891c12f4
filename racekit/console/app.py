"""The console's web app: Starlette routes over the runs folder and `racekit` subprocesses.

    GET  /                          the page (static/index.html): models, create, a model, leaderboard
    GET  /assets/console.js|.css    its script and style
    GET  /api/runs                  every run: state, track, race type, time trained, best evaluation
    GET  /api/run?id=RUN            one run; /api/run/curves, /api/run/log, /api/run/track.png, ?id=RUN
    POST /api/run/stop|resume|delete|export   {"id": RUN, ...}
    GET  /api/run/model.onnx?id=RUN the exported model file
    GET  /api/tracks, /api/track.png?name=T, /api/examples
    POST /api/reward/check          {"code", "track", "race_type"}: `racekit reward check`'s verdict and line
    POST /api/trainings             the create form: `racekit train ... --out RUNS/NAME`, or queued
    GET  /leaderboard               the leaderboard page (racekit/leaderboard/web.py), whose own files and
                                    JSON are served at their own paths (/static/board.*, /api/boards, /runs/N/...)
A run id is its folder's path under the runs folder; one that leaves the runs folder is refused (404).
"""
from __future__ import annotations

import hmac
import json
import shutil
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from racekit.console import jobs as jobs_module
from racekit.console import pictures, runs
from racekit.console.forms import FieldError, resume_minutes, training_options
from racekit.console.jobs import JobError, Jobs
from racekit.console.security import COOKIE, Guard
from racekit.tracks import TrackError

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rewards"  # a source checkout's examples
MAX_BODY = 256 * 1024


def error(message: str, status: int = 400, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, **({"field": field} if field else {})}, status_code=status)


async def body_of(request: Request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise FieldError("form", f"the request is over {MAX_BODY // 1024} KB")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise FieldError("form", "the request is not JSON") from None
    if not isinstance(data, dict):
        raise FieldError("form", "send a JSON object")
    return data


def examples() -> dict[str, str]:
    """The example reward functions by file name (DeepRacer's centre-line example where there are none)."""
    found = {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.py"))} if EXAMPLES.is_dir() else {}
    if not found:
        import inspect

        from racekit.sim.reward import default_reward_function

        found["follow_centre_line.py"] = inspect.getsource(default_reward_function).replace(
            "default_reward_function", "reward_function")
    return found


def build_app(root: Path, jobs: Jobs | None = None, token: str | None = None, db_path: Path | None = None) -> Starlette:
    """The console over the runs folder `root`; token: required on every request (a non-local bind)."""
    from racekit.leaderboard.db import default_path
    from racekit.leaderboard.web import STATIC as LEADERBOARD_STATIC
    from racekit.leaderboard.web import build_app as leaderboard_app

    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    jobs = jobs or Jobs(root)
    board = leaderboard_app(Path(db_path) if db_path else default_path())

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

    def the_run(run_id) -> Path:
        path = runs.run_dir(root, run_id)
        if not runs.is_run(path):
            raise runs.RunPathError(f"run {run_id!r}: no such run")
        return path

    def info(run_id: str, live: dict, queued: list[str]) -> dict:
        return runs.run_info(root, run_id, pid=live.get(run_id), queued=run_id in queued).as_json()

    def list_runs(request: Request) -> Response:
        jobs.pump()
        live, queued = jobs.live(), jobs.queued()
        ids = runs.find_runs(root)
        listed = [info(run_id, live, queued) for run_id in ids]
        listed += [runs.RunInfo(id=q, state="queued", reason="waiting for a free training slot").as_json()
                   for q in queued if q not in ids]
        return JSONResponse({"root": str(root), "runs": listed, "max_trainings": jobs.max_trainings,
                             "training": sum(1 for r in listed if r["state"] == "training")})

    def one_run(request: Request) -> Response:
        run_id = request.query_params.get("id", "")
        queued = jobs.queued()
        if run_id in queued and not runs.is_run(runs.run_dir(root, run_id)):
            return JSONResponse(runs.RunInfo(id=run_id, state="queued").as_json())
        the_run(run_id)
        return JSONResponse(info(run_id, jobs.live(), queued))

    def curves(request: Request) -> Response:
        return JSONResponse(runs.curves(the_run(request.query_params.get("id", ""))))

    def log(request: Request) -> Response:
        return JSONResponse({"lines": runs.log_tail(the_run(request.query_params.get("id", "")), 40)})

    def run_track(request: Request) -> Response:
        cfg = runs.read_config(the_run(request.query_params.get("id", "")))
        track = (cfg or {}).get("run", {}).get("track") if cfg else None
        if not track:
            return error("this run has no one track to draw", 404)
        try:
            picture = pictures.track_png(track)
        except (TrackError, OSError, ValueError) as exc:  # a track file moved away since the run started
            return error(f"track {track}: {exc}", 404)
        return Response(picture, media_type="image/png")

    def track_picture(request: Request) -> Response:
        name = request.query_params.get("name", "")
        if name not in [t["name"] for t in pictures.builtin_tracks()]:
            return error(f"track {name!r}: not a built-in track", 404)
        return Response(pictures.track_png(name), media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})

    def tracks(request: Request) -> Response:
        return JSONResponse({"tracks": pictures.builtin_tracks(), "race_types": pictures.race_types()})

    def example_list(request: Request) -> Response:
        return JSONResponse({"examples": examples()})

    async def check(request: Request) -> Response:
        form = await body_of(request)
        code, track, race_type = form.get("code"), form.get("track") or "piccolo", form.get("race_type") or "time-trial"
        if not isinstance(code, str) or not code.strip():
            raise FieldError("reward", "reward function: write one (start from an example)")
        if track not in [t["name"] for t in pictures.builtin_tracks()]:
            raise FieldError("track", f"track: not a built-in track: {track!r}")
        if race_type not in pictures.race_types():
            raise FieldError("race_type", f"race type: not one of {', '.join(pictures.race_types())}")
        return JSONResponse(await run_in_threadpool(jobs_module.reward_check, code, track, race_type))

    async def create(request: Request) -> Response:
        form = await body_of(request)
        names = [t["name"] for t in pictures.builtin_tracks()]
        name, reward, argv = training_options(form, root, names)
        if name in jobs.queued():
            raise FieldError("name", f"name: a run called {name} is queued already; choose another name")
        folder = root / name
        folder.mkdir(parents=True)
        (folder / runs.SUBMITTED_REWARD).write_text(reward, encoding="utf-8")
        state = jobs.submit(name, [*argv, "--reward", str(folder / runs.SUBMITTED_REWARD)])
        return JSONResponse({"id": name, "state": state}, status_code=201)

    async def action(request: Request) -> Response:
        form = await body_of(request)
        run_id, what = form.get("id", ""), request.path_params["what"]
        if what == "stop":
            if run_id not in jobs.queued():
                the_run(run_id)
            pid = jobs.stop(run_id)
            return JSONResponse({"id": run_id, "stopped": pid or "taken off the queue"})
        path = the_run(run_id)
        live = jobs.live()
        if what == "resume":
            minutes = resume_minutes(form)
            if run_id in live or run_id in jobs.queued():
                raise JobError(f"run {run_id}: it is training already")
            if not (path / "checkpoints" / "last.pt").is_file():
                raise JobError(f"run {run_id}: no checkpoint to resume from")
            return JSONResponse({"id": run_id, "state": jobs.submit(run_id, ["--resume", "--minutes", f"{minutes:g}"])})
        if what == "delete":
            if run_id in live or run_id in jobs.queued():
                raise JobError(f"run {run_id}: it is training; stop it before deleting it")
            if form.get("confirm") != run_id:
                raise FieldError("confirm", "delete: confirm with the run's name")
            await run_in_threadpool(shutil.rmtree, path)
            return JSONResponse({"id": run_id, "deleted": True})
        if what == "export":
            out = await run_in_threadpool(jobs_module.export_onnx, root, run_id)
            return JSONResponse({"id": run_id, "model": f"/api/run/model.onnx?id={run_id}",
                                 "bytes": out.stat().st_size})
        return error(f"no action {what!r}", 404)

    def model_file(request: Request) -> Response:
        run_id = request.query_params.get("id", "")
        out = the_run(run_id) / "model.onnx"
        if not out.is_file():
            return error(f"run {run_id}: not exported yet", 404)
        filename = run_id.replace("/", "-") + ".onnx"
        return FileResponse(out, media_type="application/octet-stream", filename=filename)

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
        Route("/api/runs", list_runs), Route("/api/run", one_run), Route("/api/run/curves", curves),
        Route("/api/run/log", log), Route("/api/run/track.png", run_track),
        Route("/api/run/model.onnx", model_file), Route("/api/run/{what}", action, methods=["POST"]),
        Route("/api/tracks", tracks), Route("/api/track.png", track_picture), Route("/api/examples", example_list),
        Route("/api/reward/check", check, methods=["POST"]), Route("/api/trainings", create, methods=["POST"]),
        Mount("", app=board),  # the leaderboard's own files and JSON, at the paths its page asks for
    ]
    app = Starlette(routes=routes, exception_handlers={FieldError: on_field, runs.RunPathError: on_path,
                                                       JobError: on_job})
    app.state.jobs = jobs
    login = (STATIC / "login.html").read_bytes()
    return Guard(app, token, login)
