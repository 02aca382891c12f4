"""The live view of a training's evaluations in the console (racekit/console/live.py): the trainer's files
in RUN/live/ (front.jpg, chase.jpg, status.json, each replaced whole with os.replace) are written here as it
writes them, and read back through a real uvicorn: the MJPEG stream over a real socket sends each new frame,
the run's status carries the live step, and unknown runs and views are refused."""
import json
import os
import socket
import time
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from racekit.console import live
from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from test_console_app import call
from test_console_runs import write_run

WAIT = 20.0


def jpeg(value: int) -> bytes:
    """A 64x48 frame of one grey level, as JPEG."""
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), value, np.uint8))
    assert ok
    return data.tobytes()


def put(folder, name: str, data: bytes) -> None:
    """As the trainer does: a temporary file, then os.replace."""
    (folder / "live").mkdir(exist_ok=True)
    tmp = folder / "live" / (name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, folder / "live" / name)


def put_status(folder, step: int, evaluating: bool = True) -> None:
    put(folder, "status.json", json.dumps({"step": step, "track": "oval", "evaluating": evaluating,
                                           "time": time.time()}).encode())


@pytest.fixture
def console(tmp_path, monkeypatch):
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    run = write_run(root / "eval", steps=10**6, rows=[(1024, 2.0)])
    with BackgroundConsole(root, Jobs(root, max_trainings=1)) as server:
        yield server.url, run


class Stream:
    """An MJPEG stream read over a plain socket (HTTP/1.1, chunked), frame by frame."""

    def __init__(self, url: str, path: str, wait: float = WAIT):
        where = urlsplit(url)
        self.wait = wait
        self.sock = socket.create_connection((where.hostname, where.port), timeout=wait)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        self.raw, self.data, self.in_part = b"", b"", False
        self.head = self._until(b"\r\n\r\n", raw=True).decode()
        assert "transfer-encoding: chunked" in self.head.lower()

    def _read(self) -> None:
        """Whole chunks received so far go to data; if there is none, wait for more from the socket."""
        before = len(self.data)
        while b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                break
            self.data += rest[:size]
            self.raw = rest[size + 2:]
        if len(self.data) == before:
            chunk = self.sock.recv(65536)
            assert chunk, "the stream ended"
            self.raw += chunk

    def _until(self, marker: bytes, raw: bool = False) -> bytes:
        """What comes before `marker` in the response's head (raw) or in its body (de-chunked)."""
        deadline = time.monotonic() + self.wait
        while marker not in (self.raw if raw else self.data):
            assert time.monotonic() < deadline, f"nothing more from the stream; so far {self.data[:200]!r}"
            if raw:
                chunk = self.sock.recv(65536)
                assert chunk, "the stream ended"
                self.raw += chunk
            else:
                self._read()
        if raw:
            got, self.raw = self.raw.split(marker, 1)
        else:
            got, self.data = self.data.split(marker, 1)
        return got

    def frame(self) -> bytes:
        """The next part's JPEG: what comes between its headers and the next boundary (which the console
        sends with the next part's headers at once: a browser shows a part only once the next one begins)."""
        if not self.in_part:
            self._until(f"--{live.BOUNDARY}\r\n".encode())
            assert self._until(b"\r\n\r\n") == b"Content-Type: image/jpeg"
            self.in_part = True
        body = self._until(f"\r\n--{live.BOUNDARY}\r\n".encode())
        assert self._until(b"\r\n\r\n") == b"Content-Type: image/jpeg"
        return body

    def close(self):
        self.sock.close()


def test_the_stream_sends_each_new_frame_and_ends_when_the_viewer_leaves(console):
    url, run = console
    first, second = jpeg(40), jpeg(200)
    put(run, "front.jpg", first)
    before = live.streams_open  # (a stream of an earlier test may still be ending)
    stream = Stream(url, "/api/run/live.mjpg?id=eval&view=front")
    try:
        assert stream.head.startswith("HTTP/1.1 200")
        assert f"multipart/x-mixed-replace; boundary={live.BOUNDARY}" in stream.head
        assert stream.frame() == first  # what is there now, at once
        put(run, "front.jpg", second)
        got = stream.frame()
        assert got == second
        assert cv2.imdecode(np.frombuffer(got, np.uint8), cv2.IMREAD_GRAYSCALE).mean() > 150
        put(run, "front.jpg", first)
        assert stream.frame() == first
        assert live.streams_open == before + 1
    finally:
        stream.close()
    deadline = time.monotonic() + WAIT
    while live.streams_open > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.streams_open <= before


def test_a_stream_opened_before_the_first_evaluation_waits_for_its_frame(console):
    url, run = console
    stream = Stream(url, "/api/run/live.mjpg?id=eval&view=chase")
    try:
        assert stream.head.startswith("HTTP/1.1 200")
        put(run, "chase.jpg", b"not a jpeg")  # a file that is not a JPEG is never sent
        time.sleep(0.3)
        put(run, "chase.jpg", jpeg(90))
        assert stream.frame() == jpeg(90)
    finally:
        stream.close()


def test_the_runs_status_carries_the_live_step_and_the_still_frames(console):
    url, run = console
    assert call(f"{url}/api/run?id=eval")[1]["live"] is None
    assert call(f"{url}/api/run/live.jpg?id=eval&view=front")[0] == 404
    put(run, "front.jpg", jpeg(10))
    put_status(run, 12288)
    status = call(f"{url}/api/run?id=eval")[1]["live"]
    assert status["step"] == 12288 and status["evaluating"] is True and status["views"] == ["front"]
    put(run, "chase.jpg", jpeg(70))
    put_status(run, 12288, evaluating=False)
    status = call(f"{url}/api/run?id=eval")[1]["live"]
    assert status["evaluating"] is False and status["views"] == ["front", "chase"]
    status, still = call(f"{url}/api/run/live.jpg?id=eval&view=chase")
    assert status == 200 and still == jpeg(70)


@pytest.mark.parametrize("query", ["id=nothing&view=front", "id=eval&view=side", "id=eval", "id=../..&view=front",
                                   "id=%2Fetc&view=front"])
def test_unknown_runs_and_views_are_refused(console, query):
    url, _ = console
    for kind in ("mjpg", "jpg"):
        status, body = call(f"{url}/api/run/live.{kind}?{query}")
        assert status == 404 and body["error"]


def test_a_real_training_streams_its_evaluations(tmp_path, monkeypatch):
    """`racekit train` started from the console writes RUN/live/ during its evaluations (agent/live.py): the
    stream sends its frames as they change, and the run's status names the evaluation's step."""
    monkeypatch.setenv("RACEKIT_DB", str(tmp_path / "board.sqlite"))
    root = tmp_path / "runs"
    tiny = ["--envs", "2", "--rollout-steps", "64", "--camera", "36x36", "--eval-every", "128", "--eval-laps", "1",
            "--steps", "1024", "--no-simtrace"]
    jobs = Jobs(root, max_trainings=1, extra_train_args=tiny)
    form = {"name": "live", "track": "oval", "race_type": "time-trial", "algorithm": "ppo", "steering_low": "-30",
            "steering_high": "30", "speed_low": "0.5", "speed_high": "3", "minutes": "5",
            "reward": "def reward_function(params):\n    return 1.0\n"}
    with BackgroundConsole(root, jobs) as server:
        try:
            assert call(f"{server.url}/api/trainings", form)[0] == 201
            stream = Stream(server.url, "/api/run/live.mjpg?id=live&view=front", wait=240)  # a busy machine
            try:
                first = stream.frame()
                second = stream.frame()
            finally:
                stream.close()
            assert first != second
            for frame in (first, second):
                assert cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_GRAYSCALE).shape == (72, 72)
            status = call(f"{server.url}/api/run?id=live")[1]["live"]
            assert status["track"] == "oval" and status["step"] >= 128 and status["views"] == ["front", "chase"]
        finally:
            for pid in jobs.live().values():
                os.kill(pid, 15)
