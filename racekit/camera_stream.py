"""The server end of the simulator's camera stream (the client is hardware/sim_camera.py).

One listening socket on 127.0.0.1; each client gets its own sender thread that
always sends the newest published frame and skips the ones it was too slow
for, so a slow or stuck client never holds up the simulation, and a client
that stops reading for SEND_TIMEOUT_S is dropped.
"""
from __future__ import annotations

import socket
import threading

import numpy as np

from racekit.hardware.sim_camera import SCHEME, encode_frame

SEND_TIMEOUT_S = 2.0
ACCEPT_POLL_S = 0.2  # how soon close() is noticed by the accept thread


class FrameServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        """Bind now (OSError if the port is taken); port 0 picks a free one, see `.port`."""
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(ACCEPT_POLL_S)
        self.host, self.port = self._listener.getsockname()[:2]
        self._cond = threading.Condition()
        self._latest: bytes | None = None
        self._index = 0
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.connections = 0  # clients accepted so far

    @property
    def url(self) -> str:
        return f"{SCHEME}://{self.host}:{self.port}"

    def start(self) -> "FrameServer":
        self._spawn(self._accept_loop, "camera-stream accept")
        return self

    def publish(self, frame: np.ndarray, sim_time: float) -> None:
        """Make `frame` (BGR uint8) the one every client gets next."""
        with self._cond:
            self._index += 1
            self._latest = encode_frame(frame, self._index, sim_time)
            self._cond.notify_all()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            clients = list(self._clients)
        self._listener.close()
        for conn in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked in sendall
            except OSError:
                pass  # the client already went away
        for thread in self._threads:
            thread.join(timeout=SEND_TIMEOUT_S + 1.0)

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # the listener was closed by close()
                return
            conn.settimeout(SEND_TIMEOUT_S)
            with self._cond:
                self._clients.append(conn)
                self.connections += 1
            self._spawn(self._send_loop, "camera-stream client", conn)

    def _send_loop(self, conn: socket.socket) -> None:
        sent = 0  # index of the last frame sent to this client
        try:
            while not self._stop.is_set():
                with self._cond:
                    self._cond.wait_for(lambda: self._stop.is_set() or (self._latest and self._index != sent), 0.5)
                    if self._stop.is_set() or not self._latest or self._index == sent:
                        continue
                    data, sent = self._latest, self._index
                conn.sendall(data)
        except OSError:
            pass  # the client disconnected or stopped reading: drop it, the others go on
        finally:
            with self._cond:
                if conn in self._clients:
                    self._clients.remove(conn)
            conn.close()
