"""The ONNX model file: onnxruntime equals PyTorch on real sim frames, the metadata is complete,
the car's loader takes it, and bad runs/checkpoints/outputs give one clear line."""
import json

import numpy as np
import onnx
import pytest
import torch

from racekit.agent.checkpoint import CheckpointError
from racekit.agent.evaluate import camera_kwargs
from racekit.agent.export import ExportError, export_onnx, find_checkpoint, load_policy_checkpoint
from racekit.agent.imitation import imitate
from racekit.agent.ppo import PPOConfig
from racekit.agent.train import RunConfig
from racekit.hardware.model import load_policy
from racekit.cli import main
from racekit.sim import DEEPRACER_ACTIONS
from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import ExpertDriver


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sim_frames(camera: dict, track: str = "piccolo", steps: int = 48) -> np.ndarray:
    """Real camera frames of the expert driving `track` (not the oval the models were made on)."""
    env = TimeTrialEnv(track=track, **camera_kwargs(camera))
    try:
        expert = ExpertDriver(env, max_speed=2.5)
        obs, _ = env.reset(seed=3, options={"start_fraction": 0.3})
        frames = [obs]
        for _ in range(steps - 1):
            obs, *_ = env.step(expert.act(obs))
            frames.append(obs)
    finally:
        env.close()
    return np.stack(frames)


# a few cloning steps: weights that are not the init's, written by the same code path as every run
CONFIGS = {
    "continuous": RunConfig(track="oval", frame_stack=2, speed_range=(0.5, 3.0)),
    "beta": RunConfig(track="oval", frame_stack=2, speed_range=(0.5, 3.0), ppo=PPOConfig(distribution="beta")),
    "discrete": RunConfig(track="oval", frame_stack=1, grayscale=False, actions=[list(a) for a in DEEPRACER_ACTIONS]),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def exported(request, tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp(request.param)
    run = imitate(tmp / "run", CONFIGS[request.param], samples=96, epochs=1, seed=1)
    out = tmp / "model.onnx"
    meta = export_onnx(run, out)
    torch.set_num_threads(before)
    return request.param, run, out, meta


def test_onnxruntime_equals_pytorch_on_real_sim_frames(exported):
    kind, run, out, _ = exported
    policy, state = load_policy_checkpoint(find_checkpoint(run))
    frames = sim_frames(state["camera"])
    assert frames.shape[1:] == tuple(state["obs_shape"])
    with torch.no_grad():
        expected = policy(torch.from_numpy(frames)).numpy()
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(["action"], {"frames": frames})[0]  # the whole batch: the batch dim is dynamic
    assert got.dtype == np.float32 and got.shape == (len(frames), 2)
    assert np.max(np.abs(got - expected)) < 1e-4
    one = session.run(["action"], {"frames": frames[:1]})[0]
    assert np.max(np.abs(one - expected[:1])) < 1e-4
    if kind == "discrete":  # outputs are rows of the action list, not indices or logits
        assert {tuple(a) for a in got.tolist()} <= {tuple(map(float, a)) for a in DEEPRACER_ACTIONS}
    else:
        assert np.all(got[:, 0] >= -30) and np.all(got[:, 0] <= 30) and np.all((got[:, 1] >= 0.5) & (got[:, 1] <= 3))


def test_the_graph_is_the_deterministic_policy_only(exported):
    _, _, out, _ = exported
    model = onnx.load(str(out))
    assert [i.name for i in model.graph.input] == ["frames"]
    assert [o.name for o in model.graph.output] == ["action"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    # no value head: the critic's weights are not in the file
    sizes = {tuple(init.dims) for init in model.graph.initializer}
    assert not sizes & {(1, 512), (512, 1)}


def test_metadata_has_every_field(exported):
    kind, run, out, meta = exported
    model = onnx.load(str(out))
    props = {p.key: p.value for p in model.metadata_props}
    data = json.loads(props["racekit"])
    assert data == meta
    cfg = CONFIGS[kind]
    assert data["format"] == 1 and data["control_hz"] == 15
    assert data["camera"] == {"width": 80, "height": 60, "channels": 1 if cfg.grayscale else 3, "fov_deg": 120.0,
                              "frame_stack": cfg.frame_stack}
    assert data["action_space"] == cfg.action_spec().as_dict()
    assert data["track"] == "oval" and data["training_steps"] == 0 and data["reward_sha256"] is None
    assert data["racekit_version"] == "0.1.0" and data["created"].endswith("Z") and data["checkpoint"] == "best.pt"
    for key in ("format", "racekit_version", "camera", "control_hz", "action_space", "track", "reward_sha256",
                "training_steps", "created"):
        assert key in data
    # what it was trained on (a one-track time trial here; tests/test_train_multitrack.py has the others)
    assert (data["tracks"], data["directions"], data["race_type"], data["race_options"]) == \
        (["oval"], "forward", "time-trial", {})
    assert data["randomize"] == "none" and data["from"] is None


def test_the_cars_loader_accepts_the_file_and_drives_like_pytorch(exported):
    kind, run, out, _ = exported
    car = load_policy(out)
    policy, state = load_policy_checkpoint(find_checkpoint(run))
    assert car.spec.camera.depth == state["obs_shape"][2] and car.spec.control_hz == 15
    assert car.spec.action_space.type == CONFIGS[kind].action_spec().as_dict()["type"]
    frame = sim_frames(state["camera"], steps=1)
    with torch.no_grad():
        expected = policy(torch.from_numpy(frame)).numpy()[0]
    assert np.allclose(car.act(frame), expected, atol=1e-4)


def test_export_command_writes_a_file_the_car_loads(exported, tmp_path, capsys):
    _, run, _, _ = exported
    out = tmp_path / "models" / "m.onnx"
    assert main(["export", str(run), "-o", str(out), "--checkpoint", "last"]) == 0
    assert f"wrote {out}: last.pt at 0 steps, track oval" in capsys.readouterr().out
    assert load_policy(out).spec.extra["checkpoint"] == "last.pt"


def one_error_line(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("pybullet build time")]
    assert len(err) == 1, err
    return err[0]


def test_a_dir_that_is_not_a_run_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(ExportError, match=f"^{tmp_path}: not a racekit run"):
        export_onnx(tmp_path, tmp_path / "m.onnx")
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert one_error_line(capsys) == f"racekit: error: {tmp_path}: not a racekit run (no checkpoints/best.pt or last.pt)"
    assert main(["export", str(tmp_path / "nope"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert f"{tmp_path / 'nope'}: no such run directory" in one_error_line(capsys)
    assert not (tmp_path / "m.onnx").exists()


def test_a_corrupt_checkpoint_is_one_clear_line(exported, tmp_path, capsys):
    _, run, _, _ = exported
    bad = tmp_path / "checkpoints" / "best.pt"
    bad.parent.mkdir()
    bad.write_bytes(b"\x80\x04 not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match=f"^{bad}: corrupt checkpoint"):
        export_onnx(tmp_path, tmp_path / "m.onnx")
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert one_error_line(capsys).startswith(f"racekit: error: {bad}: corrupt checkpoint")
    truncated = tmp_path / "checkpoints" / "last.pt"  # a real checkpoint cut short
    truncated.write_bytes((run / "checkpoints" / "last.pt").read_bytes()[:5000])
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "m.onnx"), "--checkpoint", "last"]) == 2
    assert one_error_line(capsys).startswith(f"racekit: error: {truncated}: corrupt checkpoint")
    assert not (tmp_path / "m.onnx").exists()


def test_an_unwritable_output_is_one_clear_line(exported, tmp_path, capsys):
    _, run, _, _ = exported
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    out = blocker / "sub" / "m.onnx"
    with pytest.raises(ExportError, match=f"^{out}: cannot write the model file \\({blocker} is a file"):
        export_onnx(run, out)
    assert main(["export", str(run), "-o", str(tmp_path)]) == 2
    assert one_error_line(capsys) == (f"racekit: error: {tmp_path}: is a directory; give the model file's name, "
                                      f"e.g. {tmp_path / 'model.onnx'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temporary file left behind
