"""A cloned expert laps the oval from pixels, and `racekit evaluate model.onnx` races it exactly like its checkpoint."""
import json

import cv2
import pytest
import torch

from racekit.agent.export import find_checkpoint, load_policy_checkpoint
from racekit.agent.imitation import imitate
from racekit.agent.train import RunConfig
from racekit.cli import main


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cloned(tmp_path_factory):
    """The expert capped at 2 m/s on the oval, cloned from 2500 noisy frames (about 10 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    run = imitate(tmp_path_factory.mktemp("bc") / "run", RunConfig(track="oval"), max_speed=2.0, samples=2500,
                  epochs=6, seed=0)
    torch.set_num_threads(before)
    return run


def evaluate_cli(capsys, tmp_path, *args) -> tuple[dict, str]:
    """`racekit evaluate ARGS --json FILE`: the result as the command wrote it, and what it printed."""
    out = tmp_path / f"eval{len(list(tmp_path.glob('eval*.json')))}.json"
    assert main(["evaluate", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text()), capsys.readouterr().out


def test_the_cloned_run_is_a_run_that_train_export_and_evaluate_read(cloned):
    config = json.loads((cloned / "config.json").read_text())
    assert config["run"]["track"] == "oval" and config["imitation"]["samples"] == 2500
    policy, state = load_policy_checkpoint(find_checkpoint(cloned))
    assert state["global_step"] == 0 and state["obs_shape"] == [60, 80, 2]
    assert (cloned / "checkpoints" / "last.pt").is_file()


def test_onnx_model_races_the_same_laps_as_its_checkpoint(cloned, tmp_path, capsys):
    model = str(tmp_path / "model.onnx")
    assert main(["export", str(cloned), "-o", model]) == 0
    capsys.readouterr()
    torch_result, torch_out = evaluate_cli(capsys, tmp_path, str(cloned), "--track", "oval")
    onnx_result, onnx_out = evaluate_cli(capsys, tmp_path, model)  # the track comes from the model's metadata
    assert "PyTorch" in torch_out and "onnxruntime" in onnx_out
    # the clone really drives: three clean laps at about the expert's 2 m/s pace (8.85 s a lap)
    assert torch_result["completion"] == 100.0 and torch_result["all_clean"], torch_out
    assert all(7.5 < t < 11.0 for t in torch_result["lap_times"]), torch_out
    assert len(onnx_result["lap_times"]) == len(torch_result["lap_times"]) == 3
    for a, b in zip(onnx_result["lap_times"], torch_result["lap_times"]):
        assert abs(a - b) < 0.1
    assert onnx_result["offtracks_per_lap"] == torch_result["offtracks_per_lap"]
    for i, lap in enumerate(onnx_result["lap_times"], start=1):
        assert f"lap {i}: {lap:.2f} s, 0 off-tracks" in onnx_out
    assert "completion 100.0%, 3/3 clean laps" in onnx_out


def test_evaluate_writes_a_chase_video_with_one_frame_per_step(cloned, tmp_path, capsys):
    video = tmp_path / "lap.mp4"
    result, out = evaluate_cli(capsys, tmp_path, str(cloned), "--laps", "1", "--reverse", "--video", str(video),
                               "--video-size", "320x240")
    assert "(reversed)" in out and result["laps"] == 1
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = capture.read()
    assert ok and frame.shape == (240, 320, 3)
    # the race ends on the step that completes the lap; each step wrote one frame
    assert f"video written to {video} ({frames} frames)" in out
    assert result["sim_time"] * 15 - 1 <= frames <= result["sim_time"] * 15 + 1


def test_evaluate_needs_a_track_from_somewhere_and_laps(cloned, capsys):
    assert main(["evaluate", str(cloned), "--laps", "0"]) == 2
    assert "--laps must be at least 1" in capsys.readouterr().err
    assert main(["evaluate", str(cloned), "--track", "no-such-track"]) == 2
    assert "no-such-track" in capsys.readouterr().err
