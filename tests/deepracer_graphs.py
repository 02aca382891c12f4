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


# deepracer-simapp sensors/utils.py and architecture/custom_architectures.py, written out here so that the
# reference does not lean on racekit's reading of them: the stereo pair's embedder for the standard and deep
# presets, each preset's middleware, and how many of racekit's preset dense layers are the camera embedder's
STEREO_CONVS = ((32, 3, 1, "relu"), (64, 3, 2, "relu"), (64, 3, 1, "relu"), (128, 3, 2, "relu"), (128, 3, 1, "relu"))
MIDDLEWARE = {"deepracer-shallow": ((512, "relu"),), "deepracer-standard": ((512, "relu"),),
              "deepracer-deep": ((256, "relu"), (128, "relu"))}
LIDAR_SIZES = {"LIDAR": 64, "SECTOR_LIDAR": 8}  # DISCRETIZED_SECTOR_LIDAR: sectors * values (lidar_config)


def build_graph(network: str, kind: str, seed: int = 0, batch_norm: bool | None = None,
                sensors: tuple[str, ...] = ("FRONT_FACING_CAMERA",), lidar_size: int = 0) -> bytes:
    """A frozen DeepRacer policy graph: `kind` "discrete", "continuous" (PPO) or "sac"; random weights; `sensors`
    by DeepRacer's names (a LIDAR's input has `lidar_size` values)."""
    return _in_tensorflow_process(_build_graph, network, kind, seed, batch_norm, tuple(sensors), lidar_size)


def _build_graph(network: str, kind: str, seed: int = 0, batch_norm: bool | None = None,
                 sensors: tuple[str, ...] = ("FRONT_FACING_CAMERA",), lidar_size: int = 0) -> bytes:
    """A frozen DeepRacer policy graph: `kind` "discrete", "continuous" (PPO) or "sac"; random weights.

    Built as DeepRacer's simapp builds it (placeholder, truediv 255, sub 0, conv + bias + activation, the
    deep preset's batch norm, flatten, dense, the head's gradient rescaler, the head), with constants in
    place of variables, as a frozen graph has them. With a LIDAR, as rl_coach's general network builds it:
    each sensor's embedder (the LIDAR's: truediv 1, sub 0, dense 256, 256), the embeddings concatenated by
    `merger` in the sensors' names' sorted order, then the middleware."""
    t = tf().compat.v1
    rng = np.random.default_rng(seed)
    camera = sensors[0]
    lidar = sensors[1] if len(sensors) > 1 else None
    spec = NETWORKS[network]
    convs, embedder_dense, middleware = spec.convs, spec.dense, ()
    if lidar is not None:  # the camera embedder's dense layers stay with it; the middleware comes after the merger
        embedder_dense, middleware = spec.dense[:len(spec.dense) - len(MIDDLEWARE[network])], MIDDLEWARE[network]
    if camera == "STEREO_CAMERAS" and network != "deepracer-shallow":
        convs, embedder_dense, middleware = STEREO_CONVS, (), MIDDLEWARE[network]
    channels = 2 if camera == "STEREO_CAMERAS" else 1
    batch_norm = network == "deepracer-deep" and convs is spec.convs if batch_norm is None else batch_norm
    scope = SAC_SCOPE if kind == "sac" else PPO_SCOPE
    graph = t.Graph()

    def dense(x, layers):
        for units, activation in layers:
            w = t.constant(rng.normal(0, 1.0 / np.sqrt(int(x.shape[1])), (int(x.shape[1]), units)), t.float32)
            b = t.constant(rng.normal(0, 0.05, units), t.float32)
            x = getattr(t.nn, activation)(t.nn.bias_add(t.matmul(x, w), b))
        return x

    with graph.as_default():
        frames = t.placeholder(t.float32, [None, 120, 160, channels], name=f"{scope}/network_0/{camera}/{camera}")
        body = "network_0" if kind == "sac" else "network_1"
        embeddings = {}
        if lidar is not None:
            values = t.placeholder(t.float32, [None, lidar_size], name=f"{scope}/network_0/{lidar}/{lidar}")
            with t.name_scope(f"{scope}/{body}/{lidar}/"):
                v = dense(t.math.truediv(values, 1.0, name="truediv") - 0.0, ((256, "relu"), (256, "relu")))
                embeddings[lidar] = t.reshape(v, [t.shape(v)[0], 256], name="Flatten/flatten/Reshape")
        with t.name_scope(f"{scope}/{body}/{camera}/"):
            x = t.math.truediv(frames, 255.0, name="truediv") - 0.0
            for i, (out, kernel, stride, activation) in enumerate(convs):
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
            if lidar is not None:
                embeddings[camera] = dense(x, embedder_dense)
        if lidar is not None:
            x = t.concat([embeddings[name] for name in sorted(embeddings)], axis=-1, name=f"{scope}/{body}/merger")
        with t.name_scope(f"{scope}/{body}/middleware_fc_embedder/"):
            x = dense(x, (middleware if lidar is not None else embedder_dense + middleware)
                      + (((256, "relu"),) if kind == "sac" else ()))
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


def metadata(network: str, kind: str, sensors=("FRONT_FACING_CAMERA",)) -> dict:
    return {"action_space": DISCRETE if kind == "discrete" else CONTINUOUS, "sensor": list(sensors),
            "neural_network": DEEPRACER_NAMES[network], "training_algorithm": "sac" if kind == "sac" else "clipped_ppo",
            "action_space_type": "discrete" if kind == "discrete" else "continuous", "version": "5"}


def write_model(folder: Path, network: str, kind: str, seed: int = 0, sensors=("FRONT_FACING_CAMERA",),
                lidar_config: dict | None = None) -> Path:
    """folder/model.pb and folder/model_metadata.json; returns the .pb's path."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = metadata(network, kind, sensors)
    lidar = sensors[1] if len(sensors) > 1 else None
    size = 0
    if lidar is not None:
        config = lidar_config or {"num_sectors": 8, "num_values_per_sector": 8, "clipping_dist": 2.0}
        size = LIDAR_SIZES.get(lidar, config["num_sectors"] * config["num_values_per_sector"])
        if lidar_config:
            meta["lidar_config"] = lidar_config
    (folder / "model_metadata.json").write_text(json.dumps(meta))
    (folder / "model.pb").write_bytes(build_graph(network, kind, seed, None, tuple(sensors), size))
    return folder / "model.pb"


def run_graph(pb: bytes, frames_uint8: np.ndarray, algorithm: str = "clipped_ppo", lidar: np.ndarray | None = None,
              sensors=("FRONT_FACING_CAMERA",)) -> np.ndarray:
    """TensorFlow running the frozen graph on (B, 120, 160, channels) frames fed as DeepRacer feeds them (float
    0-255), and a LIDAR's (B, N) values, each to its sensor's input (`sensors`, DeepRacer's names)."""
    return _in_tensorflow_process(_run_graph, pb, frames_uint8, algorithm, lidar, tuple(sensors))


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


def _run_graph(pb: bytes, frames_uint8: np.ndarray, algorithm: str = "clipped_ppo", lidar: np.ndarray | None = None,
               sensors=("FRONT_FACING_CAMERA",)) -> np.ndarray:
    t = tf().compat.v1
    graph_def = t.GraphDef()
    graph_def.ParseFromString(pb)
    scope = SAC_SCOPE if algorithm == "sac" else PPO_SCOPE
    output = (f"{SAC_SCOPE}/network_0/sac_policy_head_0/policy:0" if algorithm == "sac"
              else f"{PPO_SCOPE}/network_1/ppo_head_0/policy:0")
    graph = t.Graph()
    with graph.as_default():
        t.import_graph_def(graph_def, name="")
    feeds = {f"{scope}/network_0/{sensors[0]}/{sensors[0]}:0": frames_uint8.astype(np.float32)}
    if lidar is not None:
        feeds[f"{scope}/network_0/{sensors[1]}/{sensors[1]}:0"] = lidar.astype(np.float32)
    # Grappler off: the graph's own ops run as written, unrewritten; its constant folding over a frozen graph's
    # weights (hundreds of MB for the stereo pair's own networks) took some 10 s a run, for the same outputs
    from tensorflow.core.protobuf import rewriter_config_pb2

    # (and soft placement, as a Session without a config has it: DeepRacer's own graphs pin their ops to GPU:0)
    config = t.ConfigProto(allow_soft_placement=True, graph_options=t.GraphOptions(
        rewrite_options=rewriter_config_pb2.RewriterConfig(disable_meta_optimizer=True)))
    with t.Session(graph=graph, config=config) as session:
        return session.run(output, feeds)


def deepracer_frame(picture: Path) -> np.ndarray:
    """DeepRacer's simulator preprocessing of a camera picture: resized to 160x120 (bilinear), then grey
    Y = 0.2989 R + 0.5870 G + 0.1140 B truncated to uint8 -> (120, 160, 1)."""
    rgb = cv2.cvtColor(cv2.imread(str(picture), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    small = cv2.resize(rgb, (160, 120), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    grey = 0.2989 * small[..., 0] + 0.5870 * small[..., 1] + 0.1140 * small[..., 2]
    return grey.astype(np.uint8)[..., None]


def converted_outputs(pb_path, feeds: dict[str, np.ndarray], output_name: str) -> dict[str, np.ndarray]:
    """A car's converters on a graph with any inputs (`feeds`: input name -> a batch, one row at a time as a car
    feeds them): {"tflite": TFLite's from_frozen_graph and interpreter, "openvino": OpenVINO's convert_model at
    f32, each input by its name and the car's shape, batch 1}."""
    return _in_tensorflow_process(_converted_outputs, str(pb_path), feeds, output_name)


def _converted_outputs(pb_path: str, feeds: dict[str, np.ndarray], output_name: str) -> dict[str, np.ndarray]:
    import openvino as ov

    t = tf()
    shapes = {name: [1, *values.shape[1:]] for name, values in feeds.items()}
    converter = t.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb_path, list(feeds), [output_name],
                                                                   input_shapes=shapes)
    interpreter = t.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    given = {detail["name"]: detail["index"] for detail in interpreter.get_input_details()}
    (taken,) = interpreter.get_output_details()
    batch = len(next(iter(feeds.values())))
    tflite = []
    for row in range(batch):
        for name, values in feeds.items():
            interpreter.set_tensor(given[name], values[row:row + 1].astype(np.float32))
        interpreter.invoke()
        tflite.append(interpreter.get_tensor(taken["index"])[0])
    model = ov.convert_model(pb_path)  # its inputs keep the placeholders' names (as "NAME:0"); the car's shapes:
    model.reshape({_port(model.inputs, name): shape for name, shape in shapes.items()})
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    ports = {name: _port(compiled.inputs, name) for name in feeds}
    openvino = [compiled({ports[name]: values[row:row + 1].astype(np.float32) for name, values in feeds.items()})[0][0]
                for row in range(batch)]
    return {"tflite": np.stack(tflite), "openvino": np.stack(openvino)}


def _port(ports, name: str):
    return next(port for port in ports if {name, f"{name}:0"} & set(port.get_names()))
