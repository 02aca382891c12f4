"""Models as files in the console (racekit/console/model_files.py, api_models.py), through a real uvicorn and
real `racekit` subprocesses: a tiny real run cloned (`racekit train --from`, its camera and actions kept),
a model file and a real DeepRacer tarball imported and raced like runs, random bytes and oversized uploads
refused at the file field with nothing left behind, downloads as .onnx and as DeepRacer's tarball, and a
model that cannot be one saying why in one line."""
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from racekit.console import model_files
from racekit.console.jobs import Jobs
from racekit.console.server import BackgroundConsole
from racekit.console.tasks import Tasks
from test_console_app import call

DEEPRACER_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "deepracer-models" / "deepracer-utils-sample" / "model"
TINY = ["--envs", "2", "--rollout-steps", "64", "--eval-every", "100000", "--no-simtrace", "--steps", "128"]
WAIT = 240.0


def upload(url: str, name: str, filename: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/api/models/import?name={name}&filename={filename}", data=data,
                                     method="POST", headers={"Content-Type": "application/octet-stream"})
    return call_request(request)


def call_request(request):
    import json

    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def console(real_run, tmp_path):
    jobs = Jobs(real_run, max_trainings=1, extra_train_args=TINY)
    with BackgroundConsole(real_run, jobs, tasks=Tasks(), db_path=tmp_path / "board.sqlite") as server:
        yield server.url, jobs


def wait_state(url, run_id, states=("finished", "stopped", "failed")):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        run = call(f"{url}/api/run?id={run_id}")[1]
        if run.get("state") in states:
            return run
        time.sleep(0.5)
    raise AssertionError(f"{run_id}: still {run.get('state')} after {WAIT:g} s")


def test_a_clone_trains_from_the_run_with_its_camera_and_actions(console, real_run):
    url, jobs = console
    status, source = call(f"{url}/api/run/clone?id=tiny")
    assert status == 200 and source["ok"] and source["track"] == "oval"
    assert source["options"][:2] == ["--from", str(real_run / "tiny")] and "36x36" in source["options"]
    form = {"from": "tiny", "name": "tiny-clone", "track": "piccolo", "race_type": "time-trial", "minutes": "1",
            "reward": "def reward_function(params):\n    return 1.0\n", "steering_low": "bad"}  # not read: the clone's
    status, made = call(f"{url}/api/trainings", form)
    assert status == 201, made
    run = wait_state(url, "tiny-clone")
    assert run["state"] == "finished" and run["track"] == "piccolo", run
    config = (real_run / "tiny-clone" / "config.json").read_text()
    assert str(real_run / "tiny") in config and '"camera_width": 36' in config
    status, refused = call(f"{url}/api/trainings", {**form, "name": "other", "from": "nothing-here"})
    assert status == 400 and refused["field"] == "from"


def test_a_model_file_imported_races_and_downloads(console, real_run):
    url, _ = console
    status, exported = call(f"{url}/api/run/export", {"id": "tiny"})
    data = (real_run / "tiny" / "model.onnx").read_bytes()
    status, made = upload(url, "brought", "my%20model.onnx", data)
    assert status == 201 and made["imported"]["kind"] == "onnx" and made["imported"]["track"] == "oval"
    listed = {r["id"]: r for r in call(f"{url}/api/runs")[1]["runs"]}
    assert listed["brought"]["state"] == "imported" and listed["brought"]["track"] == "oval"
    assert "my model.onnx" in listed["brought"]["reason"]
    assert call(f"{url}/api/run/track.png?id=brought")[1][:4] == b"\x89PNG"
    assert call(f"{url}/api/run/export", {"id": "brought"})[0] == 200
    assert call(f"{url}/api/run/model.onnx?id=brought") == (200, data)
    status, clone = call(f"{url}/api/run/clone?id=brought")
    assert clone["ok"] is False and "cannot be trained on" in clone["why"]
    status, refused = call(f"{url}/api/run/export-deepracer", {"id": "tiny"})
    assert status == 409 and refused["error"].startswith("tiny cannot be a DeepRacer model: trained with racekit's")
    assert "\n" not in refused["error"]


@pytest.mark.parametrize("filename, data, says", [
    ("noise.onnx", bytes(range(256)) * 40, "not a model file racekit reads"),
    ("noise.tar.gz", bytes(range(256)) * 40, "noise.tar.gz"),
    ("model.pt", b"x" * 100, "upload a model file (.onnx) or a DeepRacer model (.tar.gz)"),
    ("empty.onnx", b"", "is empty")])
def test_random_bytes_are_refused_at_the_file_field(console, real_run, filename, data, says):
    url, _ = console
    status, refused = upload(url, "junk", filename, data)
    assert status == 400 and refused["field"] == "file" and says in refused["error"], refused
    assert "\n" not in refused["error"] and not (real_run / "junk").exists()


def test_an_upload_over_the_limit_and_a_bad_name_are_refused(console, real_run, monkeypatch):
    url, _ = console
    monkeypatch.setattr(model_files, "MAX_UPLOAD_BYTES", 1000)
    status, refused = upload(url, "big", "big.onnx", b"\0" * 5000)
    assert status == 400 and refused["field"] == "file" and "over" in refused["error"]
    assert not (real_run / "big").exists()
    for name in ("../up", "tiny"):
        status, refused = upload(url, name, "m.onnx", b"\0" * 10)
        assert status == 400 and refused["field"] == "name"


@pytest.mark.skipif(not (DEEPRACER_SAMPLE / "model_48.pb").is_file(), reason="needs ../shared/deepracer-models")
def test_a_deepracer_model_is_imported_cloned_and_downloaded_as_deepracer(console, real_run, tmp_path):
    url, _ = console
    tarball = tmp_path / "sample.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:  # a car tarball: model_metadata.json and agent/model.pb
        tar.add(DEEPRACER_SAMPLE / "model_metadata.json", "model_metadata.json")
        tar.add(DEEPRACER_SAMPLE / "model_48.pb", "agent/model.pb")
    status, made = upload(url, "sample", "sample.tar.gz", tarball.read_bytes())
    assert status == 201 and made["imported"]["kind"] == "deepracer", made
    assert made["imported"]["action_space"]["type"] == "discrete"
    status, clone = call(f"{url}/api/run/clone?id=sample")
    assert clone["ok"] and clone["options"] == ["--from", str(real_run / "sample" / "source.tar.gz")]
    status, exported = call(f"{url}/api/run/export-deepracer", {"id": "sample"})
    assert status == 200 and exported["model"] == "/api/run/model.tar.gz?id=sample"
    status, data = call(url + exported["model"])
    assert status == 200 and data[:2] == b"\x1f\x8b"
    with tarfile.open(fileobj=__import__("io").BytesIO(data)) as tar:
        assert {"model_metadata.json", "agent/model.pb"} <= set(tar.getnames())
