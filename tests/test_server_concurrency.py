"""Uploads at the same time: each lands whole, and the active model is one of them, never a mix."""
import hashlib
import json
import threading

import pytest

from hardware_helpers import make_model, metadata
from server_helpers import IO_TIMEOUT, car_service, open_socket, read_response


def padded_model(path, speed, pad):
    # A long metadata field makes a model of a few hundred KB, so each upload takes many chunks.
    return make_model(path, speed=speed, meta=json.dumps(metadata(padding=pad * 300_000))).read_bytes()


def upload_in_two_halves(service, name, body, halfway: threading.Barrier, answers: dict):
    """PUT `body`, pausing after the first half until the other upload is half-way too."""
    sha = hashlib.sha256(body).hexdigest()
    head = (f"PUT /api/models/{name}?activate=1 HTTP/1.1\r\nHost: car\r\nAuthorization: Bearer {service.token}\r\n"
            f"X-Content-Sha256: {sha}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with open_socket(service) as sock:
        sock.sendall(head + body[: len(body) // 2])
        halfway.wait(IO_TIMEOUT)
        sock.sendall(body[len(body) // 2:])
        answers[name] = read_response(sock)


@pytest.mark.parametrize("round_", range(3))
def test_two_uploads_at_once_both_land_whole_and_one_is_active(tmp_path, round_):
    bodies = {"a.onnx": padded_model(tmp_path / "a.onnx", 1.0, "a"),
              "b.onnx": padded_model(tmp_path / "b.onnx", 2.0, "b")}
    with car_service(tmp_path) as service:
        halfway = threading.Barrier(2)
        answers: dict[str, bytes] = {}
        threads = [threading.Thread(target=upload_in_two_halves, args=(service, name, body, halfway, answers))
                   for name, body in bodies.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(IO_TIMEOUT * 3)
        assert all(answers[name].startswith(b"HTTP/1.1 201") for name in bodies), answers
        stored = {m["name"]: m for m in service.client.models()["models"]}
        assert set(stored) == set(bodies)
        for name, body in bodies.items():
            sha = hashlib.sha256(body).hexdigest()
            assert stored[name]["sha256"] == sha and stored[name]["size"] == len(body)
            assert (service.data / "models" / f"{sha}.onnx").read_bytes() == body
        active = service.active_bytes()
        assert active in bodies.values()
        assert sum(m["active"] for m in stored.values()) == 1
        other = [hashlib.sha256(b).hexdigest() for b in bodies.values() if b != active]
        assert service.car.store.state()["history"] == other  # the first activated, then replaced
        assert list((service.data / "uploads").iterdir()) == []
