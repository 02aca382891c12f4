"""A model's evaluations from its page (tasks.py): race it, run the robustness suite, analyse it.

    POST /api/run/race        {"id", "track", "direction", "laps", "race_type", ...}: `racekit race` of its model
    POST /api/run/robustness  {"id"}: `racekit evaluate MODEL --suite robustness --db DB` (its score on the leaderboard)
    POST /api/run/analysis    {"id"}: `racekit analyze RUN`
    POST /api/run/task/cancel {"id", "task"}: stop a running task (404 unknown, 409 not running)
    GET  /api/run/tasks?id=RUN                       its tasks, newest first: state, progress, result, files
    GET  /api/run/task/file?id=RUN&task=T&name=N     a task's file: replay.mp4, map.png, robustness.png, report.html
"""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from racekit.console import jobs as jobs_module
from racekit.console import model_files, pictures, tasks
from racekit.console.context import Context, body_of, error
from racekit.console.forms import race_options

MEDIA = {".mp4": "video/mp4", ".png": "image/png", ".html": "text/html; charset=utf-8", ".json": "application/json"}


def routes(ctx: Context) -> list[Route]:
    async def model_of(run_id: str) -> str:
        """The run's model file, exported now unless it is newer than its checkpoints (JobError if it has none)."""
        return str(await run_in_threadpool(jobs_module.export_onnx, ctx.root, run_id))

    async def race(request: Request) -> Response:
        form = await body_of(request)
        run_id = form.get("id", "")
        run = ctx.the_run(run_id)
        argv = race_options(form)
        options = {k: form.get(k) for k in ("track", "direction", "laps", "race_type", "objects", "bots", "bot_speed",
                                            "lane_changes") if form.get(k) not in (None, "")}
        options["laps"] = int(argv[argv.index("--laps") + 1])
        if "--object-positions" in argv:  # fixed boxes: their places, not a count
            options.pop("objects", None)
            options["object_positions"] = argv[argv.index("--object-positions") + 1]
        if "--track" in argv:  # as the page names it: generated:SEED, deepracer:NAME
            options["track"] = pictures.page_id(argv[argv.index("--track") + 1])
        model = await model_of(run_id)
        task = ctx.tasks.start(run, "race", ["race", model, "--name", run_id, "--db", str(ctx.db), "--out", "OUT",
                                             *argv], options, db=ctx.db)
        return JSONResponse({"id": run_id, "task": task}, status_code=201)

    async def robustness(request: Request) -> Response:
        run_id = (await body_of(request)).get("id", "")
        run = ctx.the_run(run_id)
        model = await model_of(run_id)
        # --db: its score goes on the leaderboard with the model file, shown beside the model's races
        task = ctx.tasks.start(run, "robustness", ["evaluate", model, "--suite", "robustness", "--db", str(ctx.db),
                                                   "--out", "OUT"], {}, db=ctx.db)
        return JSONResponse({"id": run_id, "task": task}, status_code=201)

    async def analysis(request: Request) -> Response:
        run_id = (await body_of(request)).get("id", "")
        run = ctx.the_run(run_id)
        source = run / "model.onnx" if (run / model_files.IMPORTED).is_file() else run  # an imported model: its file
        task = ctx.tasks.start(run, "analysis", ["analyze", str(source), "--out", "OUT/report.html"], {})
        return JSONResponse({"id": run_id, "task": task}, status_code=201)

    def task_list(request: Request) -> Response:
        run = ctx.the_run(request.query_params.get("id", ""))
        return JSONResponse({"tasks": [t.as_json() for t in ctx.tasks.list(run)]})

    async def cancel(request: Request) -> Response:
        form = await body_of(request)
        run, task = ctx.the_run(form.get("id", "")), form.get("task", "")
        folder = run / tasks.FOLDER / str(task)
        if not isinstance(task, str) or not tasks.TASK_ID.fullmatch(task) or not (folder / tasks.TASK).is_file():
            return error(f"task {task!r}: no such task", 404)
        await run_in_threadpool(ctx.tasks.cancel, folder)  # waits for the process to go (a few seconds at most)
        return JSONResponse(ctx.tasks.info(folder).as_json())

    def task_file(request: Request) -> Response:
        run = ctx.the_run(request.query_params.get("id", ""))
        task, name = request.query_params.get("task", ""), request.query_params.get("name", "")
        folder = run / tasks.FOLDER / task
        if not tasks.TASK_ID.fullmatch(task) or not folder.is_dir():
            return error(f"task {task!r}: no such task", 404)
        path = tasks.find_file(folder, task.split("-")[2], name)
        if path is None:
            return error(f"task {task}: no file {name!r} (yet)", 404)
        return FileResponse(path, media_type=MEDIA[path.suffix], headers={"Cache-Control": "no-store"})

    return [Route("/api/run/race", race, methods=["POST"]), Route("/api/run/robustness", robustness, methods=["POST"]),
            Route("/api/run/analysis", analysis, methods=["POST"]), Route("/api/run/tasks", task_list),
            Route("/api/run/task/file", task_file), Route("/api/run/task/cancel", cancel, methods=["POST"])]
