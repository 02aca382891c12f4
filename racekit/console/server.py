"""`racekit console`'s server: uvicorn on the console app, and a thread that starts queued trainings."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import uvicorn

from racekit.console.app import build_app
from racekit.console.jobs import Jobs
from racekit.console.security import check_bind
from racekit.console.tasks import Tasks
from racekit.hardware.server.threaded import ThreadedServer, bind

PUMP_EVERY_S = 2.0


def make_server(root: Path, jobs: Jobs, token: str | None = None, quiet: bool = False, tasks: Tasks | None = None,
                db_path: Path | None = None) -> uvicorn.Server:
    config = uvicorn.Config(build_app(root, jobs, token, db_path, tasks), lifespan="off", access_log=not quiet,
                            log_level="warning" if quiet else "info", timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


class Pump(threading.Thread):
    """Starts queued trainings as others end, while the console runs."""

    def __init__(self, jobs: Jobs):
        super().__init__(name="console-queue", daemon=True)
        self.jobs, self.done = jobs, threading.Event()

    def run(self) -> None:
        while not self.done.wait(PUMP_EVERY_S):
            self.jobs.pump()

    def stop(self) -> None:
        self.done.set()
        self.jobs.close()


def serve(root: Path, host: str = "127.0.0.1", port: int = 8000, max_trainings: int | None = None,
          token: str | None = None, on_start: Callable | None = None) -> None:
    """Serve until Ctrl-C. TokenRequired for a non-local host without a token; OSError if the port is taken.
    Trainings started here go on after the console stops (each in its own session); queued ones wait in their
    run folders for the next console."""
    check_bind(host, token)
    jobs = Jobs(root, max_trainings)
    sock = bind(host, port)
    port = sock.getsockname()[1]  # --port 0: the one the system gave
    sock.listen(2048)  # the address printed below answers from now on (uvicorn serves what waits)
    pump = Pump(jobs)
    pump.start()
    if on_start is not None:
        on_start(f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/", jobs)
    try:
        make_server(root, jobs, token).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on
        pass
    finally:
        pump.stop()
        sock.close()


class BackgroundConsole(ThreadedServer):
    """The console served from a thread on an ephemeral port (tests); a context manager."""

    def __init__(self, root: Path, jobs: Jobs, token: str | None = None, host: str = "127.0.0.1",
                 tasks: Tasks | None = None, db_path: Path | None = None):
        self.pump = Pump(jobs)
        super().__init__(make_server(Path(root), jobs, token, quiet=True, tasks=tasks, db_path=db_path), host, "console")

    def __enter__(self):
        entered = super().__enter__()
        self.pump.start()
        return entered

    def __exit__(self, *exc):
        self.pump.stop()
        return super().__exit__(*exc)
