"""`racekit flash` and `racekit car status|stop` against a real car service on 127.0.0.1."""
import json

import pytest

from racekit.hardware.server.client import CarClient, resolve
from hardware_helpers import make_model, metadata
from racekit.cli import main
from server_helpers import car_service, models, neutral_arrives


@pytest.fixture
def service(tmp_path, monkeypatch):
    # No token or config from the machine running the tests.
    monkeypatch.delenv("RACEKIT_CAR_TOKEN", raising=False)
    monkeypatch.setenv("RACEKIT_CAR_CONFIG", str(tmp_path / "no-config.toml"))
    with car_service(tmp_path) as s:
        yield s


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_flash_with_token_from_the_config_file_uploads_without_activating(service, tmp_path, capsys, monkeypatch):
    config = tmp_path / "car.toml"
    config.write_text(f'url = "{service.url}"\ntoken = "{service.token}"\n')
    monkeypatch.setenv("RACEKIT_CAR_CONFIG", str(config))
    first, second = models(tmp_path)
    code, out, err = run(capsys, "flash", str(first), "--activate")  # no --car, no --token
    assert code == 0, err
    code, out, err = run(capsys, "flash", str(second), "--name", "tuned-v2")
    assert code == 0, err
    assert "stored on the car as tuned-v2 (sha256 verified)" in out and "active model: model0.onnx" in out
    assert service.active_bytes() == first.read_bytes()


def test_per_car_tokens_in_the_config_file(service, tmp_path, monkeypatch):
    config = tmp_path / "car.toml"
    config.write_text(f'token = "for-another-car"\n[cars."{service.url}"]\ntoken = "{service.token}"\n')
    monkeypatch.setenv("RACEKIT_CAR_CONFIG", str(config))
    assert resolve(service.url + "/", None) == (service.url, service.token)
    assert resolve("http://other:8080", None)[1] == "for-another-car"
    monkeypatch.setenv("RACEKIT_CAR_TOKEN", "from-env")
    assert resolve(service.url, None)[1] == "from-env"  # the environment beats the file
    assert resolve(service.url, "given")[1] == "given"  # and --token beats both


def test_flash_start_then_status_and_stop_commands(service, tmp_path, capsys, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy"):  # a proxy for the internet must not see the car
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    model = models(tmp_path, 1)[0]
    code, out, err = run(capsys, "flash", str(model), "--car", service.url, "--token", service.token, "--start",
                         "--max-speed", "0.25")
    assert code == 0, err
    assert "state:        running" in out and "speed cap 0.25" in out
    code, out, _ = run(capsys, "car", "status", "--car", service.url, "--token", service.token, "--json")
    status = json.loads(out)
    assert code == 0 and status["running"] and status["active"]["name"] == "model0.onnx"
    code, out, _ = run(capsys, "car", "stop", "--car", service.url, "--token", service.token, "--estop")
    assert code == 0 and "state:        e-stop" in out
    assert neutral_arrives(service.virtual) is not None


def test_the_mistakes_are_one_line_errors(service, tmp_path, capsys):
    model = models(tmp_path, 1)[0]
    code, _, err = run(capsys, "flash", str(model), "--car", service.url)
    assert code == 2 and "no token for" in err and "RACEKIT_CAR_TOKEN" in err
    code, _, err = run(capsys, "flash", str(model), "--car", service.url, "--token", "wrong")
    assert code == 2 and "refused the token (401)" in err
    code, _, err = run(capsys, "car", "status", "--car", "http://127.0.0.1:9", "--token", "x")
    assert code == 2 and "cannot reach the car at http://127.0.0.1:9" in err
    code, _, err = run(capsys, "flash", str(model), "--car", "file:///etc/passwd", "--token", "x")
    assert code == 2 and "expected http://HOST:PORT" in err
    wrong = make_model(tmp_path / "wrong.onnx", meta=json.dumps(metadata(width=64, height=48)))
    code, _, err = run(capsys, "flash", str(wrong), "--car", service.url, "--token", service.token)
    assert code == 2 and "input 'frames' has shape" in err  # refused on the laptop, before sending
    assert service.client.models()["models"] == []
    for line in err.strip().splitlines():
        assert line.startswith("racekit: error: ")


def test_activating_while_driving_is_refused_and_changes_nothing(service, tmp_path, capsys):
    first, second = models(tmp_path)
    assert run(capsys, "flash", str(first), "--car", service.url, "--token", service.token, "--start")[0] == 0
    code, _, err = run(capsys, "flash", str(second), "--car", service.url, "--token", service.token, "--activate")
    assert code == 2 and "stop it before activating" in err
    assert service.active_bytes() == first.read_bytes() and service.car.runner.running


def test_a_car_reporting_another_sha256_is_not_activated(service, tmp_path, capsys, monkeypatch):
    model = models(tmp_path, 1)[0]
    real_upload = CarClient.upload

    def upload_reporting_other_bytes(self, *args, **kwargs):
        return dict(real_upload(self, *args, **kwargs), sha256="f" * 64)  # as if other bytes had arrived

    monkeypatch.setattr(CarClient, "upload", upload_reporting_other_bytes)
    code, _, err = run(capsys, "flash", str(model), "--car", service.url, "--token", service.token, "--activate")
    assert code == 2 and "the car reports sha256 ffff" in err and "not activated" in err
    assert service.car.store.active() is None
