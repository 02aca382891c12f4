"""The car service for real on 127.0.0.1: flash, start, status, stop, e-stop, rollback, calibration,
camera view; a software motor controller on a pseudo-terminal stands in for the car."""
import time

import cv2
import numpy as np
import pytest

from racekit.hardware.server.client import CarError
from racekit.cli import main
from server_helpers import (NEUTRAL, WAIT, car_service, models, neutral_arrives, open_socket, raw_request,
                            read_response, wait_until)


@pytest.fixture
def service(tmp_path):
    with car_service(tmp_path) as s:
        yield s


def driving(history):
    return any(r.source == "command" and r.throttle_us != NEUTRAL[1] for r in history)


def test_flash_start_status_stop_and_roll_back(service, tmp_path, capsys, monkeypatch):
    first, second = models(tmp_path)
    monkeypatch.setenv("RACEKIT_CAR_TOKEN", service.token)
    assert main(["flash", str(first), "--car", service.url, "--start", "--max-speed", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "sha256 verified" in out and "state:        running" in out and "active model: model0.onnx" in out
    assert service.active_bytes() == first.read_bytes()

    # Commands reach the controller: the model's 1 m/s of 4 m/s at cap 0.5 -> 1/8 of the forward range.
    assert service.virtual.wait_for(driving, WAIT)
    assert wait_until(lambda: (service.client.status()["loop_hz"] or 0) > 5)
    status = service.client.status()
    assert status["running"] and status["state"] == "running" and 10 < status["loop_hz"] < 20
    assert status["model"]["sha256"] == status["active"]["sha256"] and status["max_speed"] == 0.5
    cmd = status["last_command"]
    assert cmd["reason"] == "drive" and cmd["throttle"] == pytest.approx(0.125)
    assert cmd["throttle_us"] == pytest.approx(1446 - 0.125 * 135, abs=0.01) and status["last_error"] is None

    # Stop: the answer comes once neutral has been sent; it is the last thing the controller got.
    asked = time.monotonic()
    assert main(["car", "stop", "--car", service.url]) == 0
    assert "state:        stopped" in capsys.readouterr().out and not service.car.runner.running
    arrived = neutral_arrives(service.virtual)
    assert arrived is not None and arrived - asked < 1.0  # milliseconds in practice; the bound allows a busy machine
    sent = len(service.virtual.history("command"))
    time.sleep(0.2)
    assert len(service.virtual.history("command")) == sent  # nothing after the stop

    # A second model, then back to the first.
    assert main(["flash", str(second), "--car", service.url, "--activate"]) == 0
    capsys.readouterr()
    assert service.active_bytes() == second.read_bytes()
    record = service.client.rollback()
    assert record["name"] == "model0.onnx" and service.active_bytes() == first.read_bytes()
    with pytest.raises(CarError, match="no earlier model"):
        service.client.rollback()
    listing = service.client.models()["models"]
    assert [m["name"] for m in listing] == ["model1.onnx", "model0.onnx"]
    assert [m["active"] for m in listing] == [False, True]
    assert main(["car", "status", "--car", service.url]) == 0
    assert "active model: model0.onnx" in capsys.readouterr().out


def test_estop_stops_at_once_and_holds_until_cleared(service, tmp_path):
    service.client.upload(str(models(tmp_path, 1)[0]), activate=True)
    service.client.start(0.3)
    assert service.virtual.wait_for(driving, WAIT)
    status = service.client.estop()
    assert status["state"] == "e-stop" and not status["running"] and status["stop_reason"] == "e-stop"
    assert neutral_arrives(service.virtual) is not None
    with pytest.raises(CarError, match="e-stop") as refused:
        service.client.start(0.3)
    assert refused.value.status == 409 and not service.car.runner.running
    assert (service.data / "estop").exists()  # holds across a restart of the service too
    assert service.client.clear_estop()["state"] == "stopped"
    assert service.client.start(0.3)["running"]


def test_activation_and_calibration_wait_for_the_car_to_stop(service, tmp_path):
    first, second = models(tmp_path)
    service.client.upload(str(first), activate=True)
    other = service.client.upload(str(second))
    service.client.start()
    for call in (lambda: service.client.activate(other["sha256"]), service.client.rollback,
                 lambda: service.client.set_calibration(service.client.calibration()["calibration"])):
        with pytest.raises(CarError) as refused:
            call()
        assert refused.value.status == 409
    assert service.active_bytes() == first.read_bytes()
    with pytest.raises(CarError, match="already driving"):
        service.client.start()


def test_calibration_is_read_written_and_used_at_the_next_start(service, tmp_path):
    answer = service.client.calibration()
    assert answer["saved"] is False and answer["calibration"]["throttle_neutral_us"] == 1446
    mine = dict(answer["calibration"], steering_center_us=1500, throttle_neutral_us=1500, throttle_forward_us=1700,
                throttle_reverse_us=1300)
    assert service.client.set_calibration(mine) == {"calibration": mine, "saved": True}
    assert "neutral_us = 1500" in (service.data / "calibration.toml").read_text()
    for bad in (dict(mine, steering_center_us=1800), dict(mine, throttle_neutral_us="x"), {"steering_center_us": 1}):
        with pytest.raises(CarError) as refused:
            service.client.set_calibration(bad)
        assert refused.value.status == 400
    assert service.client.calibration()["calibration"] == mine
    service.client.upload(str(models(tmp_path, 1)[0]), activate=True)
    service.client.start(0.5)
    assert service.virtual.wait_for(lambda h: any(r.throttle_us > 1500 for r in h), WAIT)  # forward is longer now
    service.client.stop()
    assert neutral_arrives(service.virtual, (1500, 1500)) is not None


def test_a_start_that_cannot_drive_reports_why(tmp_path):
    with car_service(tmp_path) as service:
        with pytest.raises(CarError, match="no active model") as refused:
            service.client.start()
        assert refused.value.status == 409
        service.client.upload(str(models(tmp_path, 1)[0]), activate=True)
        service.car.runner.base.serial = str(tmp_path / "no-such-port")  # the controller was unplugged
        with pytest.raises(CarError, match="cannot open serial port"):
            service.client.start()
        status = service.client.status()
        assert not status["running"] and "cannot open serial port" in status["last_error"]


def test_the_camera_view_is_an_mjpeg_stream_of_the_camera(service):
    sock = open_socket(service)
    with sock:
        sock.sendall(f"GET /camera.mjpg HTTP/1.1\r\nHost: car\r\nAuthorization: Bearer {service.token}\r\n\r\n"
                     .encode())
        data = b""
        deadline = time.monotonic() + WAIT
        while data.count(b"--racekitframe") < 3 and time.monotonic() < deadline:
            data += sock.recv(65536)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 200") and "multipart/x-mixed-replace; boundary=racekitframe" in head
    part = data.split(b"--racekitframe\r\n")[1]
    jpeg = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (120, 160, 3)
    assert abs(int(frame[:, :80].mean()) - int(frame[:, 80:].mean())) > 200  # one half bright, one black
    # The viewer left: the camera is closed again once nobody uses it.
    assert wait_until(lambda: service.car.camera.users == 0)


def test_health_needs_no_token_and_the_console_page_needs_one(service):
    assert raw_request(service, "GET", "/health", token=None) == (200, {"ok": True, "service": "racekit car"})
    status, body = raw_request(service, "GET", "/", token=None, headers={"Accept": "text/html"})
    assert status == 401 and b"Enter the access token" in body["raw"]
    status, body = raw_request(service, "GET", "/")
    assert status == 200 and b"racekit car" in body["raw"] and b"/static/console.js" in body["raw"]
    assert raw_request(service, "GET", "/static/console.js", token=None)[0] == 401
    assert raw_request(service, "GET", "/static/console.js")[0] == 200
    assert raw_request(service, "GET", "/static/..%2Fapp.py")[0] == 404


def test_idle_connections_do_not_block_the_service(service):
    # A client that connects and sends nothing must not hold up anyone else.
    with open_socket(service) as idle:
        assert service.client.status()["state"] == "stopped"
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: car\r\n\r\n")
        assert read_response(idle).startswith(b"HTTP/1.1 200")
