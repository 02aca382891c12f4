"""The simulator's camera stream: the wire format, the server, and `sim://` as a car camera."""
import socket
import time

import numpy as np
import pytest

from racekit.hardware.camera import open_camera
from racekit.hardware.errors import CameraError
from racekit.hardware.sim_camera import HEADER, FrameDecoder, SimStream, encode_frame, parse_source
from hardware_helpers import wait_until
from racekit.camera_stream import FrameServer

WAIT = 10.0


def picture(level: int, shape=(24, 32, 3)) -> np.ndarray:
    frame = np.full(shape, level, np.uint8)
    frame[:, :, 0] = 7  # blue differs from red: a swapped channel order would show
    return frame


@pytest.fixture
def server():
    srv = FrameServer().start()
    yield srv
    srv.close()


def test_frames_survive_the_wire_in_any_chunking():
    frames = [picture(10), picture(200, (12, 16, 3)), np.arange(48, dtype=np.uint8).reshape(6, 8)]
    data = b"".join(encode_frame(f, i, 0.5 * i) for i, f in enumerate(frames, start=1))
    decoder, got = FrameDecoder(), []
    for i in range(0, len(data), 7):  # arbitrary TCP segment boundaries
        got += decoder.feed(data[i:i + 7])
    assert [g.index for g in got] == [1, 2, 3] and [g.sim_time for g in got] == [0.5, 1.0, 1.5]
    assert np.array_equal(got[0].frame, frames[0]) and np.array_equal(got[1].frame, frames[1])
    assert np.array_equal(got[2].frame, frames[2][:, :, None])


def test_a_stream_that_is_not_ours_is_refused():
    with pytest.raises(ValueError, match="not a racekit camera stream"):
        FrameDecoder().feed(b"HTTP/1.1 200 OK\r\n\r\n" + bytes(HEADER.size))
    with pytest.raises(ValueError):
        encode_frame(np.zeros((4, 4, 2), np.uint8), 1, 0.0)


@pytest.mark.parametrize("source", ["sim://", "sim://127.0.0.1", "sim://127.0.0.1:0", "sim://:5600",
                                    "sim://127.0.0.1:port", "sim://127.0.0.1:70000"])
def test_a_bad_url_is_one_clear_error(source):
    with pytest.raises(CameraError, match="expected sim://HOST:PORT"):
        parse_source(source)


def test_url_parsing():
    assert parse_source("sim://127.0.0.1:5600") == ("127.0.0.1", 5600)
    assert parse_source("sim://localhost:80/") == ("localhost", 80)


def test_nobody_listening_is_a_camera_error_naming_the_server():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CameraError, match=f"sim://127.0.0.1:{port}: cannot connect.*racekit sim serve"):
        SimStream("127.0.0.1", port).connect(timeout_s=0.3)


def test_the_car_camera_gets_the_newest_frames_by_url(server):
    server.publish(picture(50), 0.0)
    camera = open_camera(server.url).start()  # imports racekit.hardware.sim_camera by its scheme
    try:
        assert wait_until(lambda: camera.latest() is not None)
        first = camera.latest()
        assert first.frame.shape == (24, 32, 3) and np.array_equal(first.frame, picture(50))
        for level in (60, 70, 80):
            server.publish(picture(level), level / 10)
        assert wait_until(lambda: camera.latest().frame[0, 0, 1] == 80)  # the newest wins
        assert camera.stream.last.sim_time == 8.0 and camera.age() < WAIT
    finally:
        camera.stop()


def test_a_client_that_stops_reading_does_not_hold_up_the_others(server):
    stuck = socket.create_connection((server.host, server.port))  # connects, never reads
    camera = open_camera(server.url).start()
    try:
        big = np.zeros((480, 640, 3), np.uint8)
        started = time.monotonic()
        for i in range(60):  # ~55 MB for the stuck client: far beyond any socket buffer
            big[0, 0, 0] = i
            server.publish(big, float(i))
            time.sleep(0.002)
        assert time.monotonic() - started < 5.0  # publish never blocked on the stuck client
        assert wait_until(lambda: camera.latest() is not None and camera.latest().frame[0, 0, 0] == 59)
    finally:
        camera.stop()
        stuck.close()


def test_the_camera_reconnects_when_the_simulator_comes_back():
    first = FrameServer().start()
    port = first.port
    first.publish(picture(30), 0.0)
    camera = open_camera(first.url).start()
    try:
        assert wait_until(lambda: camera.latest() is not None)
        first.close()
        before = camera.latest().index
        time.sleep(0.3)
        assert camera.latest().index == before  # no frames: the loop sees a stall and goes neutral
        second = FrameServer(port=port).start()
        try:
            second.publish(picture(90), 1.0)
            assert wait_until(lambda: camera.latest().index > before)
            assert camera.latest().frame[0, 0, 1] == 90
        finally:
            second.close()
    finally:
        camera.stop()
