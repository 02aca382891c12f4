"""Models as files (model_files.py): import one, download one as DeepRacer's tarball, and what a clone takes.

    POST /api/models/import?name=NAME&filename=FILE   the file's bytes (application/octet-stream): a model .onnx
                                                      or a DeepRacer .tar.gz, as the model NAME
    POST /api/run/export-deepracer {"id"}             `racekit export --format deepracer` into the run folder
    GET  /api/run/model.tar.gz?id=RUN                 that tarball
    GET  /api/run/clone?id=RUN                        what a clone of it keeps, its track, race type and reward
"""
from __future__ import annotations

import shutil

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from racekit.console import model_files, pictures, runs
from racekit.console.context import Context, body_of, error
from racekit.console.forms import FieldError
from racekit.console.jobs import JobError

UPLOAD = "upload.part"


def routes(ctx: Context) -> list[Route]:
    async def import_model(request: Request) -> Response:
        name, filename = request.query_params.get("name", ""), request.query_params.get("filename", "")
        try:
            runs.check_name(name)
            folder = runs.run_dir(ctx.root, name)
        except ValueError as exc:
            raise FieldError("name", str(exc)) from None
        if folder.exists() or name in ctx.jobs.queued():
            raise FieldError("name", f"name: a model called {name} exists already; choose another name")
        try:
            model_files.upload_kind(filename)
        except ValueError as exc:
            raise FieldError("file", str(exc)) from None
        limit = model_files.MAX_UPLOAD_BYTES
        if int(request.headers.get("content-length") or 0) > limit:
            raise FieldError("file", f"file: {filename} is over {limit // 2**20} MB")
        folder.mkdir(parents=True)
        try:
            size = 0
            with open(folder / UPLOAD, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise FieldError("file", f"file: {filename} is over {limit // 2**20} MB")
                    out.write(chunk)
            if size == 0:
                raise FieldError("file", f"file: {filename or 'the upload'} is empty")
            record = await run_in_threadpool(model_files.import_model, folder, folder / UPLOAD, filename)
        except ValueError as exc:  # FieldError is one too
            shutil.rmtree(folder, ignore_errors=True)
            raise exc if isinstance(exc, FieldError) else FieldError("file", str(exc)) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return JSONResponse({"id": name, "imported": record}, status_code=201)

    async def export_deepracer(request: Request) -> Response:
        run_id = (await body_of(request)).get("id", "")
        folder = ctx.the_run(run_id)
        out = await run_in_threadpool(model_files.export_deepracer, folder, run_id)
        return JSONResponse({"id": run_id, "model": f"/api/run/model.tar.gz?id={run_id}", "bytes": out.stat().st_size})

    def tarball(request: Request) -> Response:
        run_id = request.query_params.get("id", "")
        out = ctx.the_run(run_id) / "model.tar.gz"
        if not out.is_file():
            return error(f"run {run_id}: not exported as a DeepRacer model yet", 404)
        return FileResponse(out, media_type="application/gzip", filename=run_id.replace("/", "-") + ".tar.gz")

    def clone(request: Request) -> Response:
        run_id = request.query_params.get("id", "")
        folder = ctx.the_run(run_id)
        try:
            options = model_files.clone_options(folder)
        except JobError as exc:
            return JSONResponse({"id": run_id, "ok": False, "why": str(exc)})
        info = runs.run_info(ctx.root, run_id)
        reward = folder / "reward_function.py"
        return JSONResponse({"id": run_id, "ok": True, "options": options, "track": pictures.page_id(info.track),
                             "race_type": info.race_type or "time-trial",
                             "reward": reward.read_text(encoding="utf-8") if reward.is_file() else None})

    return [Route("/api/models/import", import_model, methods=["POST"]),
            Route("/api/run/export-deepracer", export_deepracer, methods=["POST"]),
            Route("/api/run/model.tar.gz", tarball), Route("/api/run/clone", clone)]
