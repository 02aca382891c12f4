"""Every upload the car service must refuse, and requests without the right token: each is
answered with an error, and the active model, its bytes, the stored files and the upload area
are exactly as before."""
import hashlib
import json
import socket

import pytest

from hardware_helpers import make_model, metadata
from server_helpers import WAIT, car_service, wait_until, models, open_socket, raw_request, read_response

LIMIT = 256 * 1024  # the service's upload limit in these tests


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("refusals")
    with car_service(tmp, max_upload_bytes=LIMIT) as s:
        first, second = models(tmp)
        s.client.upload(str(second))
        s.client.upload(str(first), activate=True)
        s.files = tmp
        yield s


@pytest.fixture
def unchanged(service):
    """Asserts after the test that the refused request changed nothing."""
    before = service.snapshot()
    yield
    assert service.snapshot() == before
    assert service.active_bytes() == (service.files / "model0.onnx").read_bytes()
    assert not list(service.files.parent.rglob("evil*")) and not list(service.data.rglob("*evil*"))


def put(service, name, body, sha=None, token="use-service", **headers):
    if sha is not False:
        headers["X-Content-Sha256"] = sha or file_sha256_bytes(body)
    return raw_request(service, "PUT", f"/api/models/{name}?activate=1", body, headers, token=token)


def file_sha256_bytes(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def good_model(service) -> bytes:
    return make_model(service.files / "new.onnx", speed=3.5).read_bytes()


def test_no_token(service, unchanged):
    status, body = put(service, "new.onnx", good_model(service), token=None)
    assert status == 401 and body == {"error": "missing or wrong token"}


@pytest.mark.parametrize("token", ["wrong", "", "Bearer", "x" * 43])
def test_wrong_token(service, unchanged, token):
    assert put(service, "new.onnx", good_model(service), token=token)[0] == 401


def test_wrong_token_in_the_console_cookie(service, unchanged):
    body = good_model(service)
    wrong_last = "B" if service.token.endswith("A") else "A"
    status, _ = raw_request(service, "PUT", "/api/models/new.onnx?activate=1", body, token=None,
                            headers={"X-Content-Sha256": file_sha256_bytes(body),
                                     "Cookie": "racekit_token=" + service.token[:-1] + wrong_last})
    assert status == 401


def test_the_console_cookie_from_another_site_is_refused(service, unchanged):
    cookie = {"Cookie": f"racekit_token={service.token}", "Content-Type": "application/json"}
    status, body = raw_request(service, "POST", "/api/estop", b"{}", dict(cookie, Origin="http://evil.example"),
                               token=None)
    assert status == 403 and "another site" in body["error"]
    same_site = dict(cookie, Origin=f"http://127.0.0.1:{service.port}")
    assert raw_request(service, "POST", "/api/estop/clear", b"{}", same_site, token=None)[0] == 200
    assert raw_request(service, "GET", "/api/status", b"", dict(cookie, Origin="http://evil.example"),
                       token=None)[0] == 200  # reading is allowed: the browser keeps the answer from that site


def test_truncated_body(service, unchanged):
    body = good_model(service)
    with open_socket(service) as sock:
        sock.sendall((f"PUT /api/models/new.onnx?activate=1 HTTP/1.1\r\nHost: car\r\n"
                      f"Authorization: Bearer {service.token}\r\nX-Content-Sha256: {file_sha256_bytes(body)}\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)  # the sender's connection dies half-way through the file
        answer = read_response(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    # The service notices the cut and deletes the part it received (right after the connection closes).
    assert wait_until(lambda: not list((service.data / "uploads").iterdir()))


def test_truncated_body_that_ends_cleanly_is_caught_by_the_hash(service, unchanged):
    body = good_model(service)
    half = body[: len(body) // 2]
    chunked = f"{len(half):x}\r\n".encode() + half + b"\r\n0\r\n\r\n"  # a proper end, but half the file
    with open_socket(service) as sock:
        sock.sendall((f"PUT /api/models/new.onnx?activate=1 HTTP/1.1\r\nHost: car\r\n"
                      f"Authorization: Bearer {service.token}\r\nX-Content-Sha256: {file_sha256_bytes(body)}\r\n"
                      f"Transfer-Encoding: chunked\r\n\r\n").encode() + chunked)
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 400") and b"sha256 mismatch" in answer


def test_sha256_mismatch(service, unchanged):
    status, body = put(service, "new.onnx", good_model(service), sha="0" * 64)
    assert status == 400 and "sha256 mismatch" in body["error"]


@pytest.mark.parametrize("sha, message", [(False, "X-Content-Sha256"), ("abc", "64 hex digits"),
                                          ("../" + "0" * 61, "64 hex digits")])
def test_missing_or_malformed_sha256(service, unchanged, sha, message):
    status, body = put(service, "new.onnx", good_model(service), sha=sha)
    assert status == 400 and message in body["error"]


def test_oversized_body_with_its_length_declared(service, unchanged):
    # Refused on the header alone: the service answers before reading the body.
    with open_socket(service) as sock:
        sock.sendall((f"PUT /api/models/new.onnx HTTP/1.1\r\nHost: car\r\nAuthorization: Bearer {service.token}\r\n"
                      f"X-Content-Sha256: {'0' * 64}\r\nContent-Length: {LIMIT + 1}\r\n\r\n").encode())
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than the limit" in answer


def test_oversized_body_streamed_without_a_length(service, unchanged):
    big = b"\0" * (LIMIT + 100_000)
    chunks = b"".join(f"{len(big[i:i + 65536]):x}\r\n".encode() + big[i:i + 65536] + b"\r\n"
                      for i in range(0, len(big), 65536)) + b"0\r\n\r\n"
    with open_socket(service) as sock:
        sock.sendall((f"PUT /api/models/new.onnx HTTP/1.1\r\nHost: car\r\nAuthorization: Bearer {service.token}\r\n"
                      f"X-Content-Sha256: {file_sha256_bytes(big)}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
                     + chunks)
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than the limit" in answer


def test_not_an_onnx_file(service, unchanged):
    status, body = put(service, "new.onnx", b"PK\x03\x04 this is a zip, not a model" * 10)
    assert status == 422 and "new.onnx: not a loadable ONNX model" in body["error"]


def test_onnx_with_the_wrong_input_shape(service, unchanged):
    wrong = make_model(service.files / "wrong.onnx", meta=json.dumps(metadata(width=64, height=48))).read_bytes()
    status, body = put(service, "wrong.onnx", wrong)
    assert status == 422 and "input 'frames' has shape" in body["error"] and "[batch, 48, 64, 2]" in body["error"]


def test_onnx_without_racekit_metadata(service, unchanged):
    status, body = put(service, "plain.onnx", make_model(service.files / "plain.onnx", meta=None).read_bytes())
    assert status == 422 and "no 'racekit' entry" in body["error"]


@pytest.mark.parametrize("name", [
    "../evil.onnx", "..%2Fevil.onnx", "%2E%2E%2Fevil.onnx", "a/../../evil.onnx", "/etc/evil.onnx",
    "..", ".evil.onnx", "evil%00.onnx", "..%5Cevil.onnx", "%2Fevil.onnx", "e" * 101, "evil..onnx",
])
def test_names_that_try_to_leave_the_data_directory(service, unchanged, name):
    status, body = put(service, name, good_model(service))
    assert status in (400, 404), body  # 404: the path did not even reach the upload route
    if status == 400:
        assert "bad model name" in body["error"]


def test_ids_that_are_not_a_sha256_are_refused(service, unchanged):
    for sha in ("..%2F..%2Fstate", "0" * 63, "Z" * 64):
        assert raw_request(service, "POST", f"/api/models/{sha}/activate")[0] in (400, 404, 405)
    assert raw_request(service, "POST", f"/api/models/{'0' * 64}/activate") == (404, {
        "error": f"no model {'0' * 64} on this car"})


ROUTES = [("GET", "/api/status"), ("GET", "/api/models"), ("POST", "/api/rollback"), ("POST", "/api/start"),
          ("POST", "/api/stop"), ("POST", "/api/estop"), ("POST", "/api/estop/clear"), ("GET", "/api/calibration"),
          ("PUT", "/api/calibration"), ("GET", "/camera.mjpg"), ("GET", "/"), ("GET", "/static/console.js"),
          ("POST", "/api/session"), ("DELETE", "/api/session"), ("POST", f"/api/models/{'0' * 64}/activate"),
          ("GET", "/no/such/page")]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_every_route_but_health_needs_the_token(service, unchanged, method, path, token):
    status, body = raw_request(service, method, path, b"{}", {"Content-Type": "application/json"}, token=token)
    assert status == 401 and body == {"error": "missing or wrong token"}


def test_without_the_token_a_driving_car_cannot_be_stopped_or_changed(tmp_path):
    with car_service(tmp_path) as service:
        first, second = models(tmp_path)
        other = service.client.upload(str(second))["sha256"]
        service.client.upload(str(first), activate=True)
        service.client.start(0.5)
        before = service.snapshot()
        for method, path in [("POST", "/api/stop"), ("POST", "/api/estop"), ("POST", "/api/rollback"),
                             ("POST", f"/api/models/{other}/activate"), ("PUT", "/api/calibration")]:
            assert raw_request(service, method, path, b"{}", token="wrong")[0] == 401
        assert service.snapshot() == before and service.car.runner.running
        sent = len(service.virtual.history("command"))
        assert service.virtual.wait_for(lambda h: len(h) > sent + 3, WAIT)  # still driving
        assert service.virtual.history("command")[-1].throttle_us != 1446
        assert not (service.data / "calibration.toml").exists()
