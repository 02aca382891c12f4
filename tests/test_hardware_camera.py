"""Camera sources: video files, the threaded grabber's stall detection, and the scheme registry."""

import numpy as np
import pytest

from racekit.hardware.camera import Camera, camera_schemes, open_camera, register_camera_scheme
from racekit.hardware.errors import CameraError
from hardware_helpers import wait_until, write_video

WAIT = 10.0


def test_video_file_plays_its_frames_and_loops(tmp_path):
    frames = [np.full((24, 32, 3), 40 * i, np.uint8) for i in range(4)]
    path = write_video(tmp_path / "lap.avi", frames, fps=60)
    camera = open_camera(str(path)).start()
    try:
        seen = []

        def collect():
            latest = camera.latest()
            if latest is not None and (not seen or latest.index != seen[-1][0]):
                seen.append((latest.index, int(latest.frame.mean())))
            return len(seen) >= 6

        assert wait_until(collect)
        assert camera.latest().frame.shape == (24, 32, 3)
        levels = [v for _, v in seen]
        assert any(abs(v - 120) < 10 for v in levels) and any(abs(a - b) > 60 for a, b in zip(levels, levels[1:]))
        assert seen[-1][0] >= 6  # kept going past the 4 frames of the file: it loops
    finally:
        camera.stop()


def test_threaded_camera_reports_the_age_of_the_last_new_frame():
    state = {"live": True}
    camera = Camera(lambda: np.zeros((2, 2, 3), np.uint8) if state["live"] else None, "test",
                    interval_s=0.01).start()
    try:
        assert wait_until(lambda: camera.latest() is not None and camera.latest().index >= 3)
        assert camera.age() < 1.0
        state["live"] = False  # the camera stops delivering (unplugged, driver hang)
        index = camera.latest().index
        assert wait_until(lambda: camera.age() > 0.2)
        assert camera.latest().index in (index, index + 1)  # no new frames while stalled
    finally:
        camera.stop()


def test_grab_exceptions_stall_the_camera_instead_of_killing_the_thread():
    def broken():
        raise OSError("VIDIOC_DQBUF: No such device")

    camera = Camera(broken, "broken").start()
    try:
        assert wait_until(lambda: camera.errors >= 3)
        assert camera.latest() is None and camera.age() == float("inf")
    finally:
        camera.stop()


def test_schemes_can_be_registered_for_other_sources():
    made = {}

    def factory(source, clock):
        made["source"] = source
        return Camera(lambda: np.ones((3, 3, 3), np.uint8), source, clock=clock)

    register_camera_scheme("fake", factory)
    assert "fake" in camera_schemes() and "video" in camera_schemes()
    camera = open_camera("fake://127.0.0.1:5555").start()
    try:
        assert made["source"] == "fake://127.0.0.1:5555"
        assert wait_until(lambda: camera.latest() is not None)
    finally:
        camera.stop()


def test_unknown_sources_are_camera_errors(tmp_path):
    with pytest.raises(CameraError, match="unknown scheme 'rtsp'"):
        open_camera("rtsp://127.0.0.1:1/stream")
    with pytest.raises(CameraError, match="no such device or video file"):
        open_camera(str(tmp_path / "missing.mp4"))
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video")
    with pytest.raises(CameraError, match="cannot open as a video file"):
        open_camera(str(junk))
