"""A training's evaluations, live: the files the trainer writes in RUN/live/ while an evaluation runs.

    live/front.jpg     the car's camera as the model sees it (the newest frame, scaled up)
    live/chase.jpg     a chase view with text lines
    live/status.json   {"step": the global env step, "track": str, "evaluating": bool, "time": unix seconds}

Each is replaced whole (os.replace), at most a few times a second and only while an evaluation runs; in
between they stay at the last frame and status.json says evaluating=false.

    GET /api/run/live.mjpg?id=RUN&view=front|chase   multipart/x-mixed-replace: the file each time it changes
    GET /api/run/live.jpg?id=RUN&view=front|chase    the file as it is now (a run that is not training)
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from racekit.console.context import Context, error

FOLDER = "live"
STATUS = "status.json"
VIEWS = {"front": "front.jpg", "chase": "chase.jpg"}
BOUNDARY = "racekitframe"
POLL_S = 0.1
MAX_STREAM_S = 300.0  # a stream left open in a forgotten tab ends; the page opens a new one while it trains
streams_open = 0  # streams being served now (each ends when its viewer goes away)


def status(path: Path) -> dict | None:
    """live/status.json with the views that have a frame, or None before the run's first evaluation."""
    folder = path / FOLDER
    try:
        data = json.loads((folder / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    views = [view for view, name in VIEWS.items() if (folder / name).is_file()]
    return {"step": data.get("step"), "track": data.get("track"), "evaluating": bool(data.get("evaluating")),
            "time": data.get("time"), "views": views}


def _version(file: Path) -> tuple | None:
    """What changes when the file is replaced: os.replace gives it a new inode, a write a new mtime or size."""
    try:
        st = os.stat(file)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


HEAD = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n".encode()


def _part(jpeg: bytes) -> bytes:
    """One frame, closed at once by the next part's boundary and headers: a browser shows a part only when
    it has seen the next one begin."""
    return jpeg + b"\r\n" + HEAD


async def frames(file: Path, max_s: float = MAX_STREAM_S, poll_s: float = POLL_S):
    """The MJPEG parts of `file`: now (if it is there) and each time it changes, for at most max_s seconds.
    Starlette cancels this when the viewer goes away."""
    global streams_open
    end = time.monotonic() + max_s
    seen = None
    streams_open += 1
    try:
        yield HEAD
        while time.monotonic() < end:
            version = _version(file)
            if version is not None and version != seen:
                jpeg = _read(file)
                if jpeg is not None:
                    seen = version
                    yield _part(jpeg)
            await asyncio.sleep(poll_s)
    finally:
        streams_open -= 1


def _read(file: Path) -> bytes | None:
    """The JPEG's bytes; None if it is not there (or not a JPEG: not one written whole)."""
    try:
        jpeg = file.read_bytes()
    except OSError:
        return None
    return jpeg if jpeg.startswith(b"\xff\xd8") else None


def routes(ctx: Context) -> list[Route]:
    def view_file(request: Request) -> Path | Response:
        run = ctx.the_run(request.query_params.get("id", ""))
        view = request.query_params.get("view", "")
        if view not in VIEWS:
            return error(f"view {view!r}: one of {', '.join(VIEWS)}", 404)
        return run / FOLDER / VIEWS[view]

    async def stream(request: Request) -> Response:
        file = view_file(request)
        if isinstance(file, Response):
            return file
        return StreamingResponse(frames(file), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={"Cache-Control": "no-store"})

    def still(request: Request) -> Response:
        file = view_file(request)
        if isinstance(file, Response):
            return file
        jpeg = _read(file)
        if jpeg is None:
            return error("no frame yet: they come with the training's first evaluation", 404)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    return [Route("/api/run/live.mjpg", stream), Route("/api/run/live.jpg", still)]
