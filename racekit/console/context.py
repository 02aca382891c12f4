"""What every route module of the console shares: the runs folder, the trainings, and the JSON helpers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse

from racekit.console import runs
from racekit.console.forms import FieldError
from racekit.console.jobs import Jobs
from racekit.console.tasks import Tasks

MAX_BODY = 256 * 1024


def error(message: str, status: int = 400, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, **({"field": field} if field else {})}, status_code=status)


async def body_of(request: Request) -> dict:
    """The request's JSON object; FieldError("form") if it is too big, not JSON or not an object."""
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


@dataclass
class Context:
    root: Path  # resolved
    jobs: Jobs  # trainings
    tasks: Tasks  # races, robustness suites, analyses
    db: Path  # the leaderboard's file

    def the_run(self, run_id) -> Path:
        """The folder of an existing run under the runs folder; RunPathError (a 404) otherwise."""
        path = runs.run_dir(self.root, run_id)
        if not runs.is_run(path):
            raise runs.RunPathError(f"run {run_id!r}: no such run")
        return path

    def busy(self, run_id: str) -> bool:
        """It trains (whoever started it) or waits in the queue."""
        return run_id in self.jobs.live() or run_id in self.jobs.queued()
