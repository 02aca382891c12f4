"""The models list and one model: its state, curves, log, picture; stop, resume, delete, export, download.

    GET  /api/runs                  every run: state, track, race type, time trained, best evaluation
    GET  /api/run?id=RUN            one run; /api/run/curves, /api/run/log, /api/run/track.png, ?id=RUN
    POST /api/run/stop|resume|delete|export   {"id": RUN, ...}
    GET  /api/run/model.onnx?id=RUN the exported model file
"""
from __future__ import annotations

import shutil

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from racekit.console import jobs as jobs_module
from racekit.console import live as live_view
from racekit.console import model_files, pictures, runs
from racekit.console.context import Context, body_of, error
from racekit.console.forms import FieldError, resume_minutes
from racekit.console.jobs import JobError
from racekit.tracks import TrackError


def routes(ctx: Context) -> list[Route]:
    jobs = ctx.jobs

    def info(run_id: str, live: dict, queued: list[str]) -> dict:
        return runs.run_info(ctx.root, run_id, pid=live.get(run_id), queued=run_id in queued).as_json()

    def list_runs(request: Request) -> Response:
        jobs.pump()
        live, queued = jobs.live(), jobs.queued()
        ids = runs.find_runs(ctx.root)
        listed = [info(run_id, live, queued) for run_id in ids]
        listed += [runs.RunInfo(id=q, state="queued", reason="waiting for a free training slot").as_json()
                   for q in queued if q not in ids]
        return JSONResponse({"root": str(ctx.root), "runs": listed, "max_trainings": jobs.max_trainings,
                             "training": sum(1 for r in listed if r["state"] == "training")})

    def one_run(request: Request) -> Response:
        run_id = request.query_params.get("id", "")
        queued = jobs.queued()
        if run_id in queued and not runs.is_run(runs.run_dir(ctx.root, run_id)):
            return JSONResponse(runs.RunInfo(id=run_id, state="queued").as_json())
        path = ctx.the_run(run_id)
        return JSONResponse({**info(run_id, jobs.live(), queued), "live": live_view.status(path)})

    def curves(request: Request) -> Response:
        return JSONResponse(runs.curves(ctx.the_run(request.query_params.get("id", ""))))

    def log(request: Request) -> Response:
        return JSONResponse({"lines": runs.log_tail(ctx.the_run(request.query_params.get("id", "")), 40)})

    def run_track(request: Request) -> Response:
        path = ctx.the_run(request.query_params.get("id", ""))
        cfg = runs.read_config(path)
        track = cfg["run"].get("track") if cfg else (model_files.read_imported(path) or {}).get("track")
        if not track:
            return error("this run has no one track to draw", 404)
        try:
            picture = pictures.track_png(track)
        except (TrackError, OSError, ValueError) as exc:  # a track file moved away since the run started
            return error(f"track {track}: {exc}", 404)
        return Response(picture, media_type="image/png")

    async def stop(request: Request) -> Response:
        run_id = (await body_of(request)).get("id", "")
        if run_id not in jobs.queued():
            ctx.the_run(run_id)
        pid = jobs.stop(run_id)
        return JSONResponse({"id": run_id, "stopped": pid or "taken off the queue"})

    async def resume(request: Request) -> Response:
        form = await body_of(request)
        run_id = form.get("id", "")
        path = ctx.the_run(run_id)
        minutes = resume_minutes(form)
        if ctx.busy(run_id):
            raise JobError(f"run {run_id}: it is training already")
        if not (path / "checkpoints" / "last.pt").is_file():
            raise JobError(f"run {run_id}: no checkpoint to resume from")
        return JSONResponse({"id": run_id, "state": jobs.submit(run_id, ["--resume", "--minutes", f"{minutes:g}"])})

    async def delete(request: Request) -> Response:
        form = await body_of(request)
        run_id = form.get("id", "")
        path = ctx.the_run(run_id)
        if ctx.busy(run_id):
            raise JobError(f"run {run_id}: it is training; stop it before deleting it")
        if form.get("confirm") != run_id:
            raise FieldError("confirm", "delete: confirm with the run's name")
        await run_in_threadpool(shutil.rmtree, path)
        return JSONResponse({"id": run_id, "deleted": True})

    async def export(request: Request) -> Response:
        run_id = (await body_of(request)).get("id", "")
        ctx.the_run(run_id)
        out = await run_in_threadpool(jobs_module.export_onnx, ctx.root, run_id)
        return JSONResponse({"id": run_id, "model": f"/api/run/model.onnx?id={run_id}", "bytes": out.stat().st_size})

    def model_file(request: Request) -> Response:
        run_id = request.query_params.get("id", "")
        out = ctx.the_run(run_id) / "model.onnx"
        if not out.is_file():
            return error(f"run {run_id}: not exported yet", 404)
        filename = run_id.replace("/", "-") + ".onnx"
        return FileResponse(out, media_type="application/octet-stream", filename=filename)

    return [Route("/api/runs", list_runs), Route("/api/run", one_run), Route("/api/run/curves", curves),
            Route("/api/run/log", log), Route("/api/run/track.png", run_track),
            Route("/api/run/model.onnx", model_file), Route("/api/run/stop", stop, methods=["POST"]),
            Route("/api/run/resume", resume, methods=["POST"]), Route("/api/run/delete", delete, methods=["POST"]),
            Route("/api/run/export", export, methods=["POST"])]

