"""The create-model page: tracks and their pictures, the example rewards, Validate, and Start training.

    GET  /api/tracks                the tracks (built-in; DeepRacer's where their folder is), race types,
                                    sensors, randomisation presets, DeepRacer's default actions
    GET  /api/track.png?name=T, /api/examples
    POST /api/reward/check          {"code", "track", "race_type"}: `racekit reward check`'s verdict and line
    POST /api/trainings             the create form: `racekit train ... --out RUNS/NAME`, or queued; with
                                    "from": RUN, a clone of that run or imported model (`--from`)
"""
from __future__ import annotations

import inspect
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from racekit.console import jobs as jobs_module
from racekit.console import forms, model_files, pictures, runs
from racekit.console.context import Context, body_of, error
from racekit.console.forms import FieldError, training_options
from racekit.console.jobs import JobError
from racekit.sim import DEEPRACER_ACTIONS
from racekit.tracks import TrackError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rewards"  # a source checkout's examples


def examples() -> dict[str, str]:
    """The example reward functions by file name (DeepRacer's centre-line example where there are none)."""
    found = {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.py"))} if EXAMPLES.is_dir() else {}
    if not found:
        from racekit.sim.reward import default_reward_function

        found["follow_centre_line.py"] = inspect.getsource(default_reward_function).replace(
            "default_reward_function", "reward_function")
    return found


def routes(ctx: Context) -> list[Route]:
    jobs = ctx.jobs

    def track_picture(request: Request) -> Response:
        name = request.query_params.get("name", "")
        try:
            track = pictures.resolve(name)
            picture = pictures.track_png(track)
        except (ValueError, TrackError, OSError) as exc:
            return error(f"track {name!r}: {exc}", 404)
        return Response(picture, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    def tracks(request: Request) -> Response:
        return JSONResponse({"tracks": pictures.builtin_tracks(), "deepracer": pictures.deepracer_tracks(),
                             "race_types": pictures.race_types(), "randomize": list(forms.RANDOMIZE),
                             "cameras": list(forms.CAMERAS), "lidars": list(forms.LIDARS),
                             "algorithm_defaults": forms.algorithm_defaults(),
                             "deepracer_actions": [{"steering": a, "speed": v} for a, v in DEEPRACER_ACTIONS]})

    def example_list(request: Request) -> Response:
        return JSONResponse({"examples": examples()})

    async def check(request: Request) -> Response:
        form = await body_of(request)
        code = form.get("code")
        if not isinstance(code, str) or not code.strip():
            raise FieldError("reward", "reward function: write one (start from an example)")
        track = forms.track_option({"track": form.get("track") or "piccolo"})
        race_type = forms.race_type_options(form)[1]
        return JSONResponse(await run_in_threadpool(jobs_module.reward_check, code, track, race_type))

    async def create(request: Request) -> Response:
        form = await body_of(request)
        clone = None
        if form.get("from"):
            try:
                clone = model_files.clone_options(ctx.the_run(form["from"]))
            except (JobError, runs.RunPathError) as exc:
                raise FieldError("from", f"clone of {form['from']}: {exc}") from None
        name, reward, argv = training_options(form, ctx.root, clone)
        if name in jobs.queued():
            raise FieldError("name", f"name: a run called {name} is queued already; choose another name")
        folder = ctx.root / name
        folder.mkdir(parents=True)
        (folder / runs.SUBMITTED_REWARD).write_text(reward, encoding="utf-8")
        if "--actions" in argv and clone is None:  # a discrete list of the user's own
            (folder / forms.ACTIONS_FILE).write_text(forms.action_list_json(form), encoding="utf-8")
        state = jobs.submit(name, [*argv, "--reward", str(folder / runs.SUBMITTED_REWARD)])
        return JSONResponse({"id": name, "state": state}, status_code=201)

    return [Route("/api/tracks", tracks), Route("/api/track.png", track_picture), Route("/api/examples", example_list),
            Route("/api/reward/check", check, methods=["POST"]), Route("/api/trainings", create, methods=["POST"])]
