"""DeepRacer models built with TensorFlow for the tests, in DeepRacer's naming (no public file covers the
standard and deep presets, continuous PPO or SAC), and TensorFlow (and TFLite, OpenVINO) running a frozen
graph: the references the import and the export are proved against. TensorFlow is a test-only dependency;
racekit never imports it.

TensorFlow runs in a process of its own (spawned, one per test process): once its libraries are loaded, a
pytest worker's later tests lose their captured stderr in forked children and PyBullet's EGL plugin crashes
the process. The public functions here send their work there and return plain bytes and arrays.
"""
from __future__ import annotations

import importlib.util
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from racekit.agent.networks import DEEPRACER_NAMES, NETWORKS

PPO_SCOPE, SAC_SCOPE = "main_level/agent/main/online", "main_level/agent/policy/online"
DISCRETE = [{"steering_angle": s, "speed": v} for s, v in ((-30, 1.0), (-15, 1.5), (0, 2.5), (15, 1.5), (30, 1.0))]
CONTINUOUS = {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 3.0}}


_POOL: ProcessPoolExecutor | None = None


def has_tensorflow() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def _in_tensorflow_process(function, *args):
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    return _POOL.submit(function, *args).result()


def tf():
    import tensorflow as tensorflow
    return tensorflow


def build_graph(network: str, kind: str, seed: int = 0, batch_norm: bool | None = None) -> bytes:
    """A frozen DeepRacer policy graph: `kind` "discrete", "continuous" (PPO) or "sac"; random weights."""
    return _in_tensorflow_process(_build_graph, network, kind, seed, batch_norm)


def _build_graph(network: str, kind: str, seed: int = 0, batch_norm: bool | None = None) -> bytes:
    """A frozen DeepRacer policy graph: `kind` "discrete", "continuous" (PPO) or "sac"; random weights.

    Built as DeepRacer's simapp builds it (placeholder, truediv 255, sub 0, conv + bias + activation, the
    deep preset's batch norm, flatten, dense, the head's gradient rescaler, the head), with constants in
    place of variables, as a frozen graph has them."""
    t = tf().compat.v1
    rng = np.random.default_rng(seed)
    spec = NETWORKS[network]
    batch_norm = network == "deepracer-deep" if batch_norm is None else batch_norm
    scope = SAC_SCOPE if kind == "sac" else PPO_SCOPE
    graph = t.Graph()
    with graph.as_default():
        frames = t.placeholder(t.float32, [None, 120, 160, 1],
                               name=f"{scope}/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA")
        body = "network_0" if kind == "sac" else "network_1"
        with t.name_scope(f"{scope}/{body}/FRONT_FACING_CAMERA/"):
            x = t.math.truediv(frames, 255.0, name="truediv") - 0.0
            channels = 1
            for i, (out, kernel, stride, activation) in enumerate(spec.convs):
                w = t.constant(rng.normal(0, 1.0 / np.sqrt(kernel * kernel * channels), (kernel, kernel, channels, out)),
                               t.float32, name=f"Conv2d_{i}/kernel")
                b = t.constant(rng.normal(0, 0.05, out), t.float32, name=f"Conv2d_{i}/bias")
                x = t.nn.bias_add(t.nn.conv2d(x, w, [1, stride, stride, 1], "VALID", name=f"Conv2d_{i}/Conv2D"), b)
                if batch_norm:
                    x, _, _ = t.nn.fused_batch_norm(
                        x, t.constant(rng.uniform(0.5, 1.5, out), t.float32), t.constant(rng.normal(0, 0.1, out), t.float32),
                        mean=t.constant(rng.normal(0, 0.1, out), t.float32),
                        variance=t.constant(rng.uniform(0.5, 2.0, out), t.float32), is_training=False)
                x = getattr(t.nn, activation)(x)
                channels = out
            x = t.reshape(x, [t.shape(x)[0], int(np.prod(x.shape[1:]))], name="Flatten/flatten/Reshape")
        with t.name_scope(f"{scope}/{body}/middleware_fc_embedder/"):
            for i, (units, activation) in enumerate(spec.dense + (((256, "relu"),) if kind == "sac" else ())):
                w = t.constant(rng.normal(0, 1.0 / np.sqrt(int(x.shape[1])), (int(x.shape[1]), units)), t.float32)
                x = getattr(t.nn, activation)(t.nn.bias_add(t.matmul(x, w), t.constant(rng.normal(0, 0.05, units), t.float32)))
        with t.name_scope(f"{scope}/{body}/"):  # the gradient rescaler: identity when run
            s = t.constant(0.3, name="gradients_from_head_0-0_rescalers")
            x = t.strided_slice((1.0 - s) * t.stop_gradient(t.stack([x])) + s * t.stack([x]), [0], [1], [1],
                                shrink_axis_mask=1)
        head = "sac_policy_head_0" if kind == "sac" else "ppo_head_0"
        outputs = len(DISCRETE) if kind == "discrete" else 2
        with t.name_scope(f"{scope}/{body}/{head}/"):
            w = t.constant(rng.normal(0, 0.5 / np.sqrt(int(x.shape[1])), (int(x.shape[1]), outputs)), t.float32)
            logits = t.nn.bias_add(t.matmul(x, w), t.constant(rng.normal(0, 0.1, outputs), t.float32))
            (t.nn.softmax if kind == "discrete" else t.identity)(logits, name="policy")
    return graph.as_graph_def().SerializeToString()


def metadata(network: str, kind: str) -> dict:
    return {"action_space": DISCRETE if kind == "discrete" else CONTINUOUS, "sensor": ["FRONT_FACING_CAMERA"],
            "neural_network": DEEPRACER_NAMES[network], "training_algorithm": "sac" if kind == "sac" else "clipped_ppo",
            "action_space_type": "discrete" if kind == "discrete" else "continuous", "version": "5"}


def write_model(folder: Path, network: str, kind: str, seed: int = 0) -> Path:
    """folder/model.pb and folder/model_metadata.json; returns the .pb's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_metadata.json").write_text(json.dumps(metadata(network, kind)))
    (folder / "model.pb").write_bytes(build_graph(network, kind, seed))
    return folder / "model.pb"


def run_graph(pb: bytes, frames_uint8: np.ndarray, algorithm: str = "clipped_ppo") -> np.ndarray:
    """TensorFlow running the frozen graph on (B, 120, 160, 1) frames fed as DeepRacer feeds them (float 0-255)."""
    return _in_tensorflow_process(_run_graph, pb, frames_uint8, algorithm)


def tflite_outputs(pb_path: str, input_name: str, output_name: str, frames: np.ndarray) -> np.ndarray:
    """TFLite's converter (`from_frozen_graph`, by DeepRacer's names, as DeepRacer's cars use it) and its
    interpreter, frame by frame."""
    return _in_tensorflow_process(_tflite_outputs, str(pb_path), input_name, output_name, frames)


def openvino_outputs(pb_path: str, frames: np.ndarray) -> tuple[str, np.ndarray]:
    """OpenVINO's convert_model on the .pb with DeepRacer's car's input shape, compiled at f32: (the input's
    name, the outputs frame by frame)."""
    return _in_tensorflow_process(_openvino_outputs, str(pb_path), frames)


def _tflite_outputs(pb_path: str, input_name: str, output_name: str, frames: np.ndarray) -> np.ndarray:
    t = tf()
    converter = t.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb_path, [input_name], [output_name],
                                                                   input_shapes={input_name: [1, 120, 160, 1]})
    interpreter = t.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    (given,), (taken,) = interpreter.get_input_details(), interpreter.get_output_details()
    outputs = []
    for frame in frames:
        interpreter.set_tensor(given["index"], frame[None].astype(np.float32))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(taken["index"])[0])
    return np.stack(outputs)


def _openvino_outputs(pb_path: str, frames: np.ndarray) -> tuple[str, np.ndarray]:
    import openvino as ov

    model = ov.convert_model(pb_path, input=[1, 120, 160, 1])
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return model.inputs[0].get_any_name(), np.stack([compiled(frame[None].astype(np.float32))[0][0] for frame in frames])


def _run_graph(pb: bytes, frames_uint8: np.ndarray, algorithm: str = "clipped_ppo") -> np.ndarray:
    t = tf().compat.v1
    graph_def = t.GraphDef()
    graph_def.ParseFromString(pb)
    scope = SAC_SCOPE if algorithm == "sac" else PPO_SCOPE
    output = (f"{SAC_SCOPE}/network_0/sac_policy_head_0/policy:0" if algorithm == "sac"
              else f"{PPO_SCOPE}/network_1/ppo_head_0/policy:0")
    graph = t.Graph()
    with graph.as_default():
        t.import_graph_def(graph_def, name="")
    with t.Session(graph=graph) as session:
        return session.run(output, {f"{scope}/network_0/FRONT_FACING_CAMERA/FRONT_FACING_CAMERA:0":
                                    frames_uint8.astype(np.float32)})


def deepracer_frame(picture: Path) -> np.ndarray:
    """DeepRacer's simulator preprocessing of a camera picture: resized to 160x120 (bilinear), then grey
    Y = 0.2989 R + 0.5870 G + 0.1140 B truncated to uint8 -> (120, 160, 1)."""
    rgb = cv2.cvtColor(cv2.imread(str(picture), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    small = cv2.resize(rgb, (160, 120), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    grey = 0.2989 * small[..., 0] + 0.5870 * small[..., 1] + 0.1140 * small[..., 2]
    return grey.astype(np.uint8)[..., None]
