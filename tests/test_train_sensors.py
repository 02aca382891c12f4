"""`racekit train --sensor`: DeepRacer's sensor sets from the command line to the model file. Its refusals
(one line, nothing written), and one short real run with a stereo pair and a LIDAR that checkpoints, resumes,
exports an ONNX file with one input per sensor (the same actions as PyTorch's) and names its sensors as
DeepRacer does."""
import json

import numpy as np
import pytest
import torch

from racekit.agent.observations import model_inputs
from racekit.agent.policy import ActionSpec, ActorCritic, DeterministicPolicy


def error_line(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--sensor", "front-camera", "--sensor", "stereo-cameras"], "--sensor: a car has exactly one camera"),
    (["--sensor", "lidar"], "--sensor: a car has exactly one camera"),
    (["--sensor", "front-camera", "--sensor", "lidar", "--sensor", "sector-lidar"], "at most one LIDAR"),
    (["--sensor", "front-camera", "--sensor", "radar"], "unknown sensor 'radar'"),
    (["--sensor", "front-camera", "--sensor", "discretized-sector-lidar", "--lidar-sectors", "6"],
     "num_sectors must divide the LIDAR's 64 rays"),
    (["--lidar-sectors", "4"], "add --sensor discretized-sector-lidar"),
    (["--sensor", "stereo-cameras", "--rgb"], "the pair's pictures are grey"),
])
def test_sensor_sets_deepracer_forbids_are_one_line_and_nothing_is_written(tmp_path, capsys, args, message):
    from racekit.cli import main

    assert main(["train", "--out", str(tmp_path / "run"), *args]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_the_policy_joins_a_lidar_embedder_to_the_camera_trunk():
    model = ActorCritic((60, 80, 4), ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0)), lidar_size=8)
    frames = torch.zeros((3, 60, 80, 4), dtype=torch.uint8)
    near, far = torch.ones((3, 8)), torch.zeros((3, 8))
    obs = {"stereo-cameras": frames, "sector-lidar": near}
    assert model.features(obs).shape == (3, 512 + 256)
    policy = DeterministicPolicy(model).eval()
    with torch.no_grad():  # the LIDAR changes the action: it is wired in
        assert not torch.allclose(model.actor(model.joined(frames, near)), model.actor(model.joined(frames, far)))
        assert policy(frames, near).shape == (3, 2)
    with pytest.raises(ValueError, match="reads a LIDAR"):
        model.features(frames)


@pytest.fixture(scope="module")
def sensor_run(tmp_path_factory):
    from racekit.cli import main

    run = tmp_path_factory.mktemp("sensors") / "run"
    line = ["train", "--out", str(run), "--sensor", "stereo-cameras", "--sensor", "lidar", "--race-type",
            "object-avoidance", "--objects", "2", "--steps", "256", "--envs", "2", "--rollout-steps", "128",
            "--eval-every", "100000", "--quiet", "--seed", "3"]
    assert main(line) == 0
    return run


def test_a_run_with_a_stereo_pair_and_a_lidar_checkpoints_them_and_names_them_as_deepracer(sensor_run):
    state = torch.load(sensor_run / "checkpoints" / "last.pt", weights_only=False)
    assert state["global_step"] == 256
    assert state["lidar_size"] == 64 and state["obs_shape"] == [60, 80, 4]  # 2 frames of left + right
    assert state["camera"]["sensors"] == ["stereo-cameras", "lidar"] and state["camera"]["cameras"] == 2
    metadata = json.loads((sensor_run / "model" / "model_metadata.json").read_text())
    assert metadata["sensor"] == ["STEREO_CAMERAS", "LIDAR"]


def test_the_exported_file_has_one_input_per_sensor_and_drives_as_pytorch_does(sensor_run, tmp_path):
    import onnx
    import onnxruntime as ort

    from racekit.agent.evaluate import camera_kwargs
    from racekit.agent.export import export_onnx, load_policy_checkpoint
    from racekit.sim.env import TimeTrialEnv

    meta = export_onnx(sensor_run, tmp_path / "model.onnx")
    assert meta["sensors"] == ["stereo-cameras", "lidar"] and meta["camera"]["cameras"] == 2
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["frames", "lidar"]
    policy, state = load_policy_checkpoint(sensor_run / "checkpoints" / "last.pt")
    env = TimeTrialEnv(track="oval", race_type="object-avoidance", num_objects=2, **camera_kwargs(state["camera"]))
    try:
        assert model_inputs(env.observation_space) == ((60, 80, 4), 64)
        obs, _ = env.reset(seed=0)
        for _ in range(5):
            obs, *_ = env.step(env.action_space.sample())
    finally:
        env.close()
    frames, lidar = obs["stereo-cameras"][None], obs["lidar"][None]
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    ours = session.run(["action"], {"frames": frames, "lidar": lidar})[0]
    with torch.no_grad():
        theirs = policy(torch.from_numpy(frames), torch.from_numpy(lidar)).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_a_sensor_run_resumes_and_another_sensor_set_cannot_start_from_it(sensor_run, tmp_path, capsys):
    from racekit.cli import main

    assert main(["train", "--out", str(sensor_run), "--resume", "--steps", "512", "--quiet"]) == 0
    state = torch.load(sensor_run / "checkpoints" / "last.pt", weights_only=False)
    assert state["global_step"] == 512 and state["lidar_size"] == 64
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "other"), "--from", str(sensor_run), "--sensor", "stereo-cameras",
                 "--sensor", "sector-lidar", "--race-type", "object-avoidance", "--steps", "256", "--quiet"]) == 2
    line = error_line(capsys)
    assert "its sensors are stereo-cameras, lidar, this run's stereo-cameras, sector-lidar" in line
    assert "--sensor stereo-cameras --sensor lidar to start from it" in line


def test_racekit_race_drives_a_sensor_model_under_race_rules_and_draws_its_scan(sensor_run, tmp_path, capsys):
    import cv2

    from racekit.agent.export import export_onnx
    from racekit.cli import main

    model = tmp_path / "stereo-lidar.onnx"
    export_onnx(sensor_run, model)
    assert main(["race", str(model), "--track", "oval", "--race-type", "object-avoidance", "--objects", "2",
                 "--laps", "1", "--max-resets", "2", "--db", str(tmp_path / "board.sqlite"),
                 "--out", str(tmp_path / "replays"), "--video-size", "320x240"]) == 0
    video = next((tmp_path / "replays").rglob("replay.mp4"))
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    assert ok
    corner = frame[-66:-6, -66:-6]  # the radar inset: a dark square with the rays drawn on it
    assert corner.mean() < 100 and corner.max() > 60
    capsys.readouterr()
    # and head-to-head, each car with its own stereo pair and LIDAR (tests/test_headtohead.py has the details)
    assert main(["race", str(model), str(model), "--head-to-head", "--track", "oval", "--laps", "1",
                 "--max-resets", "0", "--db", str(tmp_path / "board.sqlite"), "--out", str(tmp_path / "replays"),
                 "--video-size", "192x72"]) == 0
    assert "A: " in capsys.readouterr().out


def test_a_sensor_model_goes_to_a_deepracer_car_only_with_deepracers_network_and_camera(sensor_run, tmp_path, capsys):
    """DeepRacer takes the stereo pair and the LIDAR (tests/test_deepracer_sensors.py), not racekit's network or
    an 80x60 camera: the line names those, not the sensors."""
    from racekit.cli import main

    capsys.readouterr()
    assert main(["export", str(sensor_run), "--format", "deepracer", "-o", str(tmp_path / "model.tar.gz")]) == 2
    line = error_line(capsys)
    assert "trained with racekit's network, the Beta distribution (DeepRacer's continuous PPO is Gaussian), a camera " \
           "of 80x60" in line and "sensor" not in line.split(f"{sensor_run}: ")[1]
    assert not (tmp_path / "model.tar.gz").exists()


def test_saliency_gives_each_stereo_camera_its_heat_map_with_the_lidar_beside(sensor_run, tmp_path):
    from racekit.agent.export import export_onnx
    from racekit.analyze.saliency import saliency_frames
    from racekit.models import open_driver
    from racekit.tracks import load_track

    track = load_track("oval")
    frames, method = saliency_frames(track, None, 2, checkpoint=sensor_run / "checkpoints" / "last.pt")
    assert method == "gradient" and len(frames) == 2
    for f in frames:  # left and right camera side by side, a heat map on each
        assert f.frame.shape == (60, 160, 1) and f.heat.shape == (60, 160)
        assert f.heat[:, :80].max() > 0 and f.heat[:, 80:].max() > 0
        assert not np.array_equal(f.frame[:, :80], f.frame[:, 80:])  # two cameras 6 cm apart
    model = tmp_path / "model.onnx"
    export_onnx(sensor_run, model)
    driver = open_driver(str(model))
    occluded, method = saliency_frames(track, None, 2, model_file=model, camera=driver.camera, actions=driver.actions)
    assert method == "occlusion" and occluded[0].heat.shape == (60, 160)
    # the same policy in both files: the same commands at the same places
    assert [round(f.steering, 3) for f in occluded] == [round(f.steering, 3) for f in frames]
