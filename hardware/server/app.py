"""The car service's HTTP routes (Starlette). `build_app(car)` makes the ASGI app.

    GET  /health                      {"ok": true}: the only route without the token
    GET  /                            the console page (the login page, with 401, without the token)
    GET  /static/console.js|.css      the console's script and style
    POST /api/session                 Authorization: Bearer TOKEN -> the console's cookie; DELETE logs out
    GET  /api/status                  running or stopped, active model, loop rate, last command, last error,
                                      the car's sensors
    GET  /api/models                  stored models, newest first, the active one marked
    PUT  /api/models/NAME             the model file as the body, X-Content-Sha256: HEX; ?activate=1
    POST /api/models/SHA256/activate  make a stored model the active one (car stopped)
    POST /api/rollback                the model active before the current one
    POST /api/start                   {"max_speed": 0..1}: drive with the active model
    POST /api/stop                    neutral at once; answers once the loop has stopped
    POST /api/estop, /api/estop/clear the e-stop (stop, and no start until cleared)
    GET  /api/calibration, PUT        the calibration file (DeepRacer's values until one is saved)
    GET  /camera.mjpg                 the live camera view
Errors are {"error": "..."} with a 4xx status.
"""
from __future__ import annotations

import dataclasses
import math
import os

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from racekit.hardware.calibration import Calibration, load_calibration, save_calibration
from racekit.hardware.errors import CalibrationError, HardwareError
from racekit.hardware.safety import check_speed_cap
from racekit.hardware.server import camera_view
from racekit.hardware.server.auth import COOKIE, RequireToken, TokenCheck
from racekit.hardware.server.store import StoreError, check_name, check_sha

STATIC = os.path.join(os.path.dirname(__file__), "static")
STATIC_FILES = {"console.js": "text/javascript", "console.css": "text/css"}
COOKIE_MAX_AGE_S = 30 * 24 * 3600


def _static(name: str) -> bytes:
    with open(os.path.join(STATIC, name), "rb") as fh:
        return fh.read()


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise StoreError(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise StoreError(400, "the body must be a JSON object")
    return body


class ClosingStream(StreamingResponse):
    """A stream that runs `on_close` however it ends (finished, client gone, server stopping)."""

    def __init__(self, content, on_close, **kwargs):
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def build_app(car) -> Starlette:
    """`car`: a hardware.server.serve.Car (store, runner, camera, calibration path, token hash)."""
    routes = [*_console_routes(), *_model_routes(car), *_drive_routes(car),
              *_calibration_routes(car), *_camera_routes(car)]
    app = Starlette(routes=routes, exception_handlers={StoreError: _refused})
    app.add_middleware(RequireToken, check=TokenCheck(car.token_hash), open_paths=frozenset({"/health"}),
                       login_page=_static("login.html"))
    return app


async def _refused(request, exc):
    return error(exc.status, str(exc))


def _console_routes() -> list[Route]:
    """The health check, the console page and its files, and the login that sets the cookie."""
    console = _static("console.html")

    async def health(request):
        return JSONResponse({"ok": True, "service": "racekit car"})

    async def page(request):
        return Response(console, media_type="text/html", headers={"cache-control": "no-store"})

    async def static(request):
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return error(404, "not found")
        return Response(_static(name), media_type=STATIC_FILES[name])

    async def session(request):
        response = JSONResponse({"ok": True})
        if request.method == "DELETE":
            response.delete_cookie(COOKIE, path="/")
            return response
        # The middleware let this through, so the request carries the token: hand it to the
        # browser as an HttpOnly cookie (page scripts cannot read it; SameSite keeps other sites out).
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        if not token:
            return error(400, "log in with Authorization: Bearer TOKEN")
        response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True, samesite="strict")
        return response

    return [Route("/health", health), Route("/", page), Route("/static/{name}", static),
            Route("/api/session", session, methods=["POST", "DELETE"])]


def _model_routes(car) -> list[Route]:
    """The model store: list, upload, activate, roll back (each refused while the car drives)."""
    store, runner = car.store, car.runner

    async def models(request):
        listing = await run_in_threadpool(store.list)
        return JSONResponse({"models": listing, "history": store.state()["history"]})

    async def upload(request):
        name = check_name(request.path_params["name"])
        sha = check_sha(request.headers.get("x-content-sha256"), "the X-Content-Sha256 header")
        activate = request.query_params.get("activate", "") in ("1", "true", "yes")
        if activate and runner.running:
            raise StoreError(409, "the car is driving: stop it before activating another model")
        length = request.headers.get("content-length")
        declared = int(length) if length and length.isdigit() else None
        if declared is not None and declared > store.max_bytes:
            raise StoreError(413, f"model of {declared} bytes is larger than the limit of {store.max_bytes} bytes")
        try:
            record = await _receive_model(request, store, name, sha, declared)
        except ClientDisconnect:
            return error(400, "upload cut off: the connection closed before the whole body arrived")
        if activate:
            if runner.running:  # started while the file was on its way
                raise StoreError(409, "stored, but not activated: the car started driving meanwhile")
            record = await run_in_threadpool(store.activate, sha)
        return JSONResponse(dict(record, active=store.state()["active"] == sha), status_code=201)

    async def activate(request):
        if runner.running:
            raise StoreError(409, "the car is driving: stop it before activating another model")
        record = await run_in_threadpool(store.activate, request.path_params["sha"])
        return JSONResponse(dict(record, active=True))

    async def rollback(request):
        if runner.running:
            raise StoreError(409, "the car is driving: stop it before rolling back")
        record = await run_in_threadpool(store.rollback)
        return JSONResponse(dict(record, active=True))

    return [
        Route("/api/models", models),
        # {name:path}: a name with slashes must reach check_name and be refused, not miss the route.
        Route("/api/models/{sha}/activate", activate, methods=["POST"]),
        Route("/api/models/{name:path}", upload, methods=["PUT"]),
        Route("/api/rollback", rollback, methods=["POST"]),
    ]


async def _receive_model(request: Request, store, name: str, sha: str, declared: int | None) -> dict:
    """Stream the body into the store; the store checks its size and hash before keeping it."""
    up = store.begin_upload()
    try:
        # Chunks are at most 64 KiB; writing one to the page cache takes microseconds,
        # less than handing it to a worker thread would.
        async for chunk in request.stream():
            up.write(chunk)
        return await run_in_threadpool(store.commit, up, name, sha, declared)
    finally:
        up.discard()


def _drive_routes(car) -> list[Route]:
    """Status, start, stop and the e-stop; each answers with the status after it."""
    store, runner = car.store, car.runner

    def status_body() -> dict:
        status = runner.status()
        if status["model"]:
            status["model"] = {k: v for k, v in status["model"].items() if k != "path"}
        active = store.active()
        status["active"] = None if active is None else {k: v for k, v in active.items() if k != "path"}
        status["sensors"] = car.sensors.describe()
        return status

    async def status(request):
        return JSONResponse(await run_in_threadpool(status_body))

    async def start(request):
        body = await _json_body(request) if await request.body() else {}
        try:
            cap = check_speed_cap(body.get("max_speed", car.default_max_speed))
        except ValueError as exc:
            raise StoreError(400, f"max_speed: {exc}") from None
        active = store.active()
        if active is None:
            raise StoreError(409, "no active model: flash one first")
        try:
            await run_in_threadpool(runner.start, active, cap)
        except HardwareError as exc:
            raise StoreError(409, str(exc)) from None
        return JSONResponse(status_body())

    async def stop(request):
        stopped = await run_in_threadpool(runner.stop, "stop (console)")
        return JSONResponse(status_body(), status_code=200 if stopped else 500)

    async def estop(request):
        stopped = await run_in_threadpool(runner.estop)
        return JSONResponse(status_body(), status_code=200 if stopped else 500)

    async def estop_clear(request):
        runner.clear_estop()
        return JSONResponse(status_body())

    return [
        Route("/api/status", status),
        Route("/api/start", start, methods=["POST"]), Route("/api/stop", stop, methods=["POST"]),
        Route("/api/estop", estop, methods=["POST"]), Route("/api/estop/clear", estop_clear, methods=["POST"]),
    ]


def _calibration_routes(car) -> list[Route]:
    """The calibration file: GET reads it (DeepRacer's values until one is saved), PUT replaces it."""
    runner = car.runner

    async def calibration(request):
        path = car.calibration_path
        if request.method == "PUT":
            if runner.running:
                raise StoreError(409, "the car is driving: stop it before changing the calibration")
            cal = _calibration_from_body(await _json_body(request))
            try:
                await run_in_threadpool(save_calibration, cal, path)  # validates, then writes atomically
            except CalibrationError as exc:
                raise StoreError(400, str(exc).replace(path, "calibration")) from None
        saved = os.path.exists(path)
        try:
            cal = await run_in_threadpool(load_calibration, path) if saved else Calibration()
        except CalibrationError as exc:
            raise StoreError(500, str(exc)) from None
        return JSONResponse({"calibration": dataclasses.asdict(cal), "saved": saved})

    return [Route("/api/calibration", calibration, methods=["GET", "PUT"])]


def _calibration_from_body(body: dict) -> Calibration:
    """Every field, each a finite number; the ranges are save_calibration's to check."""
    fields = {f.name for f in dataclasses.fields(Calibration)}
    if set(body) != fields:
        raise StoreError(400, f"calibration needs exactly the fields {sorted(fields)}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in body.values()):
        raise StoreError(400, "calibration values must be numbers of microseconds")
    return Calibration(**{k: float(v) for k, v in body.items()})


def _camera_routes(car) -> list[Route]:
    """The live camera view, one MJPEG stream per viewer on the shared camera."""

    async def camera(request):
        try:
            cam = await run_in_threadpool(car.camera.acquire)
        except HardwareError as exc:
            return error(503, str(exc))
        parts = camera_view.mjpeg_parts(cam, car.closing, car.view_max_s)
        return ClosingStream(parts, car.camera.release, media_type=f"multipart/x-mixed-replace; "
                             f"boundary={camera_view.BOUNDARY}", headers={"cache-control": "no-store"})

    return [Route("/camera.mjpg", camera)]
