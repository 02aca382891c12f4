"""`racekit train --from DEEPRACER_MODEL`: a DeepRacer model keeps training in racekit, with its network,
its camera (DeepRacer's lens, mount and look) and its action space, from the weights it was imported with;
and `--network deepracer-*` for a new run. Real short trainings on the real sample model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from racekit.agent.checkpoint import load_checkpoint
from racekit.agent.deepracer.importer import DEEPRACER_CAMERA, import_model
from racekit.agent.export import load_policy_checkpoint
from racekit.agent.train import RunConfig
from racekit.agent.train import train as train_run
from racekit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "deepracer-models" / "deepracer-utils-sample" / "model"
PB = SAMPLE / "model_48.pb"
REINVENT = str(SAMPLE.parents[2] / "deepracer-tracks" / "reinvent_base.npy")  # where its pictures were taken
SHORT = ["--envs", "2", "--rollout-steps", "64", "--minibatch", "64", "--epochs", "1", "--eval-every", "1000000",
         "--eval-laps", "1", "--quiet", "--no-simtrace"]


def error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    return lines[-1] if lines else ""


def test_the_run_starts_from_the_imported_weights_and_drives_as_the_import_does(tmp_path):
    table = [[a["steering_angle"], a["speed"]] for a in json.loads((SAMPLE / "model_metadata.json").read_text())["action_space"]]
    cfg = RunConfig(track=REINVENT, steps=0, camera_width=160, camera_height=120, frame_stack=1,
                    actions=table, network="deepracer-shallow", fov_deg=DEEPRACER_CAMERA["fov_deg"],
                    camera_mount="deepracer", look="deepracer", from_model={"path": str(PB)}, simtrace=False)
    cfg.ppo.envs = 2
    train_run(tmp_path / "run", cfg, quiet=True)  # 0 steps: its checkpoint holds the weights it started from
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["network"] == "deepracer-shallow" and state["camera"]["look"] == "deepracer"
    policy, _ = load_policy_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    import_model(PB, tmp_path / "imported.onnx")
    frames = np.random.default_rng(0).integers(0, 256, (16, 120, 160, 1), dtype=np.uint8)
    frames[8:] //= 4  # darker frames too: more than one action chosen
    ours = policy(torch.from_numpy(frames)).detach().numpy()
    imported = onnxruntime.InferenceSession(str(tmp_path / "imported.onnx")).run(None, {"frames": frames})[0]
    np.testing.assert_allclose(ours, imported, atol=1e-5)
    config = json.loads((tmp_path / "run" / "config.json").read_text())["run"]
    assert config["from_model"]["path"] == str(PB)
    assert config["from_model"]["sha256"] == __import__("hashlib").sha256(PB.read_bytes()).hexdigest()


def test_through_the_command_line_the_run_takes_the_models_network_camera_and_actions(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--from", str(PB), "--track", REINVENT, "--steps", "128",
                 *SHORT]) == 0
    config = json.loads((out / "config.json").read_text())["run"]
    assert config["network"] == "deepracer-shallow" and len(config["actions"]) == 12
    assert (config["camera_width"], config["camera_height"], config["frame_stack"]) == (160, 120, 1)
    assert (config["camera_mount"], config["look"]) == ("deepracer", "deepracer")
    assert load_checkpoint(out / "checkpoints" / "last.pt")["global_step"] == 128
    # and back to a DeepRacer car
    assert main(["export", str(out), "--format", "deepracer", "-o", str(tmp_path / "car.tar.gz")]) == 0
    assert (tmp_path / "car.tar.gz").stat().st_size > 20e6


def test_a_new_run_with_a_deepracer_network_sees_deepracers_input(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--network", "deepracer-standard", "--track", "oval", "--steps", "128",
                 *SHORT]) == 0
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    assert state["network"] == "deepracer-standard" and state["obs_shape"] == [120, 160, 1]
    assert any(k.endswith("weight") and v.shape == (64, 25 * 35 * 64) for k, v in state["model"].items())


@pytest.mark.parametrize("extra, message", [
    (["--network", "racekit"], "its network is deepracer-shallow, this run's racekit"),
    (["--discrete"], "action space 12 discrete actions"),
    (["--camera", "80x60"], "camera 160x120 gray x1, 64.74 deg, deepracer mount, deepracer look differs"),
])
def test_asking_for_something_else_than_the_model_has_is_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--from", str(PB), "--steps", "128", *SHORT, *extra]) == 2
    assert message in error_line(capsys)
    assert not out.exists()


def test_a_deepracer_sac_model_cannot_start_a_ppo_run(tmp_path, capsys):
    from tests.deepracer_graphs import has_tensorflow, write_model

    if not has_tensorflow():
        pytest.skip("TensorFlow (a test-only dependency) is not installed")

    pb = write_model(tmp_path / "sac", "deepracer-shallow", "sac")
    assert main(["train", "--out", str(tmp_path / "run"), "--from", str(pb), "--steps", "128", *SHORT]) == 2
    assert "a SAC model" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_the_command_lines_network_names_are_the_networks():
    from racekit.agent.networks import NETWORKS
    from racekit.cli.train import NETWORK_NAMES

    assert tuple(NETWORKS) == NETWORK_NAMES


def test_a_deepracer_stereo_and_lidar_model_starts_a_run_with_its_sensors(tmp_path, capsys):
    """DeepRacer Evo's sensors travel too: the run takes the model's stereo pair and discretised LIDAR (with its
    lidar_config), starts from its weights, and drives as the imported model file does on the same frames and
    LIDAR values; asked for other sensors, the command line names the model's in one line."""
    from tests.deepracer_graphs import has_tensorflow, write_model

    if not has_tensorflow():
        pytest.skip("TensorFlow (a test-only dependency) is not installed")
    config = {"num_sectors": 4, "num_values_per_sector": 4, "clipping_dist": 1.5}
    pb = write_model(tmp_path / "evo", "deepracer-shallow", "discrete", seed=5,
                     sensors=("STEREO_CAMERAS", "DISCRETIZED_SECTOR_LIDAR"), lidar_config=config)
    table = [[a["steering_angle"], a["speed"]]
             for a in json.loads((pb.parent / "model_metadata.json").read_text())["action_space"]]
    cfg = RunConfig(track="oval", steps=0, camera_width=160, camera_height=120, frame_stack=1, actions=table,
                    network="deepracer-shallow", fov_deg=DEEPRACER_CAMERA["fov_deg"], camera_mount="deepracer",
                    look="deepracer", sensors=["stereo-cameras", "discretized-sector-lidar"], lidar_config=config,
                    from_model={"path": str(pb)}, simtrace=False)
    cfg.ppo.envs = 2
    train_run(tmp_path / "run", cfg, quiet=True)  # 0 steps: its checkpoint holds the weights it started from
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["camera"]["sensors"] == ["stereo-cameras", "discretized-sector-lidar"]
    assert state["camera"]["lidar_config"] == config and state["lidar_size"] == 16
    policy, _ = load_policy_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    import_model(pb, tmp_path / "imported.onnx")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (16, 120, 160, 2), dtype=np.uint8)
    lidar = (rng.uniform(size=(16, 16)) < 0.3).astype(np.float32)
    ours = policy(torch.from_numpy(frames), torch.from_numpy(lidar)).detach().numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "imported.onnx"))
    imported = session.run(None, {"frames": frames, "lidar": lidar})[0]
    np.testing.assert_allclose(ours, imported, atol=1e-5)
    # the command line takes the model's sensors unless told otherwise, and then names them
    from racekit.cli import build_parser
    from racekit.cli.train import new_run_config

    taken = new_run_config(build_parser().parse_args(["train", "--out", str(tmp_path / "x"), "--from", str(pb)]))
    assert (taken.sensors, taken.lidar_config, taken.network) == (cfg.sensors, config, "deepracer-shallow")
    out = tmp_path / "other"
    assert main(["train", "--out", str(out), "--from", str(pb), "--track", "oval", "--sensor", "front-camera",
                 "--steps", "128", *SHORT]) == 2
    assert (f"its sensors are stereo-cameras, discretized-sector-lidar {json.dumps(config)}, this run's "
            f"front-camera") in error_line(capsys)
    assert not out.exists()
