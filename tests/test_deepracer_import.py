"""Importing DeepRacer models: the real sample model and TensorFlow-built graphs of every preset, PPO
(discrete and continuous) and SAC, proved against TensorFlow running the same .pb on DeepRacer's own
frames and on racekit's camera frames, through the racekit model file onnxruntime runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from racekit.agent.deepracer.importer import DEEPRACER_CAMERA, import_model
from racekit.hardware.model import load_policy
from tests.deepracer_graphs import deepracer_frame, has_tensorflow, metadata, run_graph, write_model

if not has_tensorflow():
    pytest.skip("TensorFlow (a test-only dependency) is not installed", allow_module_level=True)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "deepracer-models"
SAMPLE = SHARED / "deepracer-utils-sample"


def racekit_frames(n: int = 4) -> np.ndarray:
    """Grey 160x120 frames of racekit's simulator from a few places on a lap."""
    from racekit.sim.env import TimeTrialEnv

    env = TimeTrialEnv(camera_width=160, camera_height=120, grayscale=True)
    frames = []
    for fraction in np.linspace(0.0, 0.8, n):
        env.start_fraction = float(fraction)
        obs, _ = env.reset(seed=0)
        frames.append(obs)
    env.close()
    return np.stack(frames)


def onnx_outputs(path: Path, frames: np.ndarray, before: str) -> tuple[np.ndarray, np.ndarray]:
    """The model file's action, and the tensor that feeds its first `before` node (the network's logits or mean):
    the file itself, with that tensor added as a second output for the test."""
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if n.op_type == before)
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    action, inner = session.run(None, {"frames": frames})
    return action, inner


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def frames() -> dict:
    pictures = sorted((SAMPLE / "pictures").glob("*.png"))
    return {"deepracer": np.stack([deepracer_frame(p) for p in pictures]), "racekit": racekit_frames()}


def test_the_real_model_gives_tensorflows_probabilities(tmp_path, frames):
    pb = SAMPLE / "model" / "model_48.pb"
    out = tmp_path / "model.onnx"
    meta = import_model(pb, out)
    table = np.array(meta["action_space"]["actions"])
    for name, batch in frames.items():
        expected = run_graph(pb.read_bytes(), batch)
        action, logits = onnx_outputs(out, batch, "ArgMax")
        np.testing.assert_allclose(softmax(logits), expected, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(action, table[expected.argmax(axis=1)], err_msg=name)
    assert meta["camera"] == DEEPRACER_CAMERA and meta["network"] == "deepracer-shallow"
    assert meta["deepracer"]["sha256"] == __import__("hashlib").sha256(pb.read_bytes()).hexdigest()
    assert load_policy(str(out)).spec.action_space.type == "discrete"  # the car runtime takes it


@pytest.mark.parametrize("network", ["deepracer-shallow", "deepracer-standard", "deepracer-deep"])
@pytest.mark.parametrize("kind", ["discrete", "continuous", "sac"])
def test_every_preset_and_algorithm_matches_tensorflow(tmp_path, frames, network, kind):
    pb = write_model(tmp_path / "dr", network, kind, seed=len(network) * 10 + len(kind))
    out = tmp_path / "model.onnx"
    meta = import_model(pb, out)
    assert meta["network"] == network
    batch = np.concatenate([frames["deepracer"], frames["racekit"]])
    expected = run_graph(pb.read_bytes(), batch, "sac" if kind == "sac" else "clipped_ppo")
    if kind == "discrete":
        action, logits = onnx_outputs(out, batch, "ArgMax")
        np.testing.assert_allclose(softmax(logits), expected, atol=1e-4)
        return
    # the mean, before the mapping: PPO clips it (Clip), SAC squashes it (the graph's last Tanh)
    action, mean = onnx_outputs(out, batch, "Clip") if kind == "continuous" else _before_last_tanh(out, batch)
    np.testing.assert_allclose(mean, expected, atol=1e-4)
    low, high = np.array([-30.0, 0.5]), np.array([30.0, 3.0])
    if kind == "continuous":  # DeepRacer's rule: clip to [-1, 1], then map linearly
        mapped = low + (np.clip(expected, -1, 1) + 1) / 2 * (high - low)
    else:  # SAC: (high - low) / 2 * tanh(x) + (high + low) / 2
        mapped = (high - low) / 2 * np.tanh(expected) + (high + low) / 2
    np.testing.assert_allclose(action, mapped, atol=1e-4)


def _before_last_tanh(path: Path, frames: np.ndarray):
    model = onnx.load(str(path))
    node = [n for n in model.graph.node if n.op_type == "Tanh"][-1]
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return tuple(session.run(None, {"frames": frames}))


def test_metadata_records_where_the_model_came_from(tmp_path):
    pb = write_model(tmp_path / "dr", "deepracer-shallow", "continuous")
    meta = import_model(pb, tmp_path / "m.onnx")
    assert meta["deepracer"]["layout"] == "model.pb"
    assert meta["deepracer"]["model_metadata"] == metadata("deepracer-shallow", "continuous")
    assert meta["action_space"] == {"type": "continuous", "steering_deg": [-30.0, 30.0], "speed_mps": [0.5, 3.0]}
    assert "clip" in meta["action_mapping"]
    stored = json.loads(next(p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props if p.key == "racekit"))
    assert stored["deepracer"]["sha256"] == meta["deepracer"]["sha256"]
