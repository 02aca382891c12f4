"""The car from the console: a model flashed to a car running `racekit car serve` (`racekit flash`), and the
car service's status (`racekit car status --json`). The token goes to the command in its environment
($RACEKIT_CAR_TOKEN), never on its command line, and is kept nowhere.

    POST /api/run/flash   {"id", "car": "http://HOST:PORT", "car_token", "activate": bool}
    POST /api/car/status  {"car", "car_token"} -> {"car": the car service's status}
"""
from __future__ import annotations

import json
import os
import subprocess
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from racekit.console import jobs as jobs_module
from racekit.console.context import Context, body_of
from racekit.console.forms import FieldError
from racekit.console.jobs import RACEKIT, JobError

CAR_TIMEOUT_S = 120


def car_of(form: dict) -> tuple[str, str]:
    """(the car service's address, its token) from a form; FieldError naming the bad one."""
    url = form.get("car")
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        valid = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise FieldError("car", f"car: the car service's address, http://HOST:PORT (racekit car serve prints it), "
                                f"got {url!r}")
    token = form.get("car_token")
    if not isinstance(token, str) or not token.strip():
        raise FieldError("car_token", "car token: the token racekit car serve printed when it was set up")
    return url.rstrip("/"), token.strip()


def racekit_car(argv: list[str], token: str) -> str:
    """`racekit ARGV` with the car's token in its environment: its output, or JobError with its one-line reason."""
    env = {**os.environ, "RACEKIT_CAR_TOKEN": token}
    try:
        done = subprocess.run([*RACEKIT, *argv], capture_output=True, text=True, timeout=CAR_TIMEOUT_S, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise JobError(f"the car did not answer within {CAR_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
        raise JobError(lines[-1].removeprefix("racekit: error: "))
    return done.stdout


def routes(ctx: Context) -> list[Route]:
    async def flash(request: Request) -> Response:
        form = await body_of(request)
        run_id = form.get("id", "")
        ctx.the_run(run_id)
        url, token = car_of(form)
        model = await run_in_threadpool(jobs_module.export_onnx, ctx.root, run_id)
        argv = ["flash", str(model), "--car", url, "--name", run_id.replace("/", "-") + ".onnx"]
        if form.get("activate") in (True, "true", "on"):
            argv.append("--activate")
        out = await run_in_threadpool(racekit_car, argv, token)
        return JSONResponse({"id": run_id, "lines": [line for line in out.splitlines() if line.strip()]})

    async def status(request: Request) -> Response:
        url, token = car_of(await body_of(request))
        out = await run_in_threadpool(racekit_car, ["car", "status", "--car", url, "--json"], token)
        try:
            return JSONResponse({"car": json.loads(out[out.index("{"):])})
        except ValueError:
            raise JobError(f"the car answered what is not its status: {out.strip()[:200]!r}") from None

    return [Route("/api/run/flash", flash, methods=["POST"]), Route("/api/car/status", status, methods=["POST"])]
