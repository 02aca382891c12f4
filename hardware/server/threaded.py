"""A uvicorn server on a socket of its own, optionally in a background thread (tests and tools)."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is an OSError before anything else happens."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class ThreadedServer:
    """`server` on an ephemeral port of `host`, run in a thread; a context manager. `url` says where."""

    def __init__(self, server: uvicorn.Server, host: str, name: str, start_timeout_s: float = 10.0):
        self._sock = bind(host, 0)
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self.server = server
        self.name = name
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, name=name,
                                        daemon=True)
        self.start_timeout_s = start_timeout_s

    def __enter__(self):
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            self.__exit__()
            raise RuntimeError(f"the {self.name} did not start within {self.start_timeout_s:g} s")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(10.0)
        self._sock.close()
