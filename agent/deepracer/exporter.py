"""A racekit policy -> a DeepRacer car tarball (`racekit export RUN --format deepracer -o model.tar.gz`).

What a stock DeepRacer car loads (../shared/deepracer-models/README.md, "Layouts" and "The frozen graph"): a
.tar.gz with `model_metadata.json` at its root and one frozen graph, `agent/model.pb`, written here with the
GraphDef protocol buffers tensorboard ships (graph_writer.py), no TensorFlow. The policy is racekit's
ActorCritic with one of DeepRacer's networks (agent/networks.py); its weights go over as the importer brings
them in, the other way (conv kernels OIHW -> HWIO, dense weights transposed; DeepRacer's networks flatten in
TensorFlow's order, so no rows move). The head ends as DeepRacer's does, and DeepRacer's car maps it to an
action as racekit's DeterministicPolicy does:
- discrete PPO: Softmax over the action list (the car takes the argmax, racekit the argmax of the logits);
- continuous PPO (racekit's "gaussian" distribution): the raw mean, clipped to [-1, 1] then mapped linearly;
- SAC (racekit's "squashed" distribution, an imported DeepRacer SAC model): the mean before tanh.

Two sources: a run folder or checkpoint (`export_run`), and a racekit model file imported from DeepRacer
(`export_model_file`: its weights read back from the ONNX graph, so an imported model goes back as it came).
A policy with DeepRacer Evo's sensors goes with them: one input per sensor (the stereo pair's frames are the
left picture then the right, as DeepRacer's), the LIDAR's embedder joined to the camera's before the
middleware, the sensors and a discretised LIDAR's lidar_config in model_metadata.json (graph_writer.py).
Anything DeepRacer cannot express is refused with one line naming the source and saying what to train instead:
racekit's own network, a camera other than 160x120 grey single frames, the Beta distribution, a lens or mount
that is neither DeepRacer's car's nor its simulator's, the stereo pair on the standard or deep preset's
front-camera network (DeepRacer gives the pair a network of its own there). The tarball is built in memory and checked (read back by
racekit's own DeepRacer reader and run against the policy) before it is written, atomically: on any error
nothing is written.
"""
from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from racekit.agent.deepracer.errors import DeepRacerError
from racekit.agent.deepracer.graph import LIDARS as DEEPRACER_LIDARS
from racekit.agent.deepracer.graph import Branch, Layer, Policy, parse_graph, read_policy
from racekit.agent.deepracer.graph_writer import input_name, write_graph
from racekit.agent.deepracer.importer import (DEEPRACER_CAMERA, SAC_HEAD, deepracer_network, join_rows, load_layers,
                                              model_modules)
from racekit.agent.deepracer.metadata import parse_metadata, write_metadata
from racekit.agent.export import (INPUT_NAME, LIDAR_INPUT, METADATA_KEY, distribution_of, find_checkpoint,
                                  load_policy_checkpoint, spec_from_dict, write_atomically)
from racekit.agent.networks import DEEPRACER_NAMES, Network, as_network, name_of
from racekit.agent.policy import ActorCritic, DeterministicPolicy
from racekit.sim.sensors import DEEPRACER_NAMES as SENSOR_NAMES
from racekit.sim.sensors import LIDARS, LidarConfig, lidar_space

GRAPH_MEMBER, METADATA_MEMBER = "agent/model.pb", "model_metadata.json"
CAR_FOV_DEG = 120.0  # DeepRacer's car: a 120-degree wide-angle lens (racekit's camera has the same)
LENSES = (CAR_FOV_DEG, DEEPRACER_CAMERA["fov_deg"])  # DeepRacer's car's lens and its simulator's
MOUNTS = ("racekit", "deepracer")  # racekit's car (built after DeepRacer's) and DeepRacer's simulator car
TRAIN_HINT = "--network deepracer-shallow (or deepracer-standard, deepracer-deep)"


@dataclass
class Exported:
    """What was written: the tarball's model_metadata.json, and what the policy is."""

    out: Path
    metadata: dict  # model_metadata.json as written
    algorithm: str  # "clipped_ppo" or "sac"
    network: str  # racekit's preset name, e.g. "deepracer-shallow"
    source: str  # the run's checkpoint or the model file
    training_steps: int | None


def export_deepracer(source: str | Path, out: str | Path, which: str | None = None) -> Exported:
    """A run folder, checkpoint or racekit model file (.onnx, imported from DeepRacer) -> a DeepRacer car tarball."""
    path = Path(source)
    if path.suffix == ".pb" or path.name.endswith((".tar.gz", ".tgz")):
        raise DeepRacerError(f"{path}: already a DeepRacer model; export takes a racekit run or a model .onnx "
                             f"(racekit models import brings a DeepRacer model in)")
    if path.suffix == ".onnx":
        if which is not None:
            raise DeepRacerError(f"{path}: --checkpoint picks a run's checkpoint; a model file has one policy")
        return export_model_file(path, out)
    return export_run(path, out, which)


def export_run(run: str | Path, out: str | Path, which: str | None = None) -> Exported:
    """A run's best (or `which`) checkpoint as a DeepRacer car tarball at `out`; nothing written on error."""
    checkpoint = find_checkpoint(run, which)
    where = str(run)
    policy, state = load_policy_checkpoint(checkpoint)
    model = policy.model
    camera = state["camera"]
    check_exportable(where, model.network, distribution_of(state), camera, model.obs_shape)
    exported = write_tarball(model, out, where, sensors_of(camera), camera.get("lidar_config"))
    exported.source, exported.training_steps = str(checkpoint), int(state.get("global_step", 0))
    return exported


def sensors_of(camera: dict) -> list[str]:
    """A checkpoint's or model file's sensors (racekit's names, the camera first)."""
    return list(camera.get("sensors") or ["front-camera"])


def check_exportable(where: str, network: Network, distribution: str, camera: dict, obs_shape: tuple) -> str:
    """DeepRacerError, one line naming `where`, all that DeepRacer cannot run and what to train instead, unless
    DeepRacer can express the policy; returns racekit's name of its DeepRacer preset. `camera` is a checkpoint's
    camera dict, with its "sensors" (and "lidar_config") where it has more than the front camera."""
    sensors = sensors_of(camera)
    preset = preset_of(network, distribution, sensors)
    stereo = sensors[0] == "stereo-cameras"
    problems: list[tuple[str, str]] = []  # (what it was trained with, what to train with)
    if name_of(network) == "racekit":
        problems.append(("racekit's network", TRAIN_HINT))
    elif preset is None and stereo and name_of(network) in ("deepracer-standard", "deepracer-deep"):
        problems.append((f"{name_of(network)}'s front-camera network on the stereo pair (DeepRacer gives the pair "
                         f"a network of its own for that preset)", "--network deepracer-shallow"))
    elif preset is None:
        what = "PPO" if distribution != "squashed" else "SAC (a DeepRacer preset, then SAC's dense 256)"
        problems.append((f"a network that is none of DeepRacer's for {what}", TRAIN_HINT))
    if distribution == "beta":
        problems.append(("the Beta distribution (DeepRacer's continuous PPO is Gaussian)", "--distribution gaussian"))
    width, height = camera.get("width"), camera.get("height")
    if (width, height) != (160, 120):
        problems.append((f"a camera of {width}x{height} (DeepRacer's cars feed 160x120)", "--camera 160x120"))
    if camera.get("channels") != 1:
        problems.append(("a colour camera (DeepRacer's cars feed grey frames)", "a grey camera (no --rgb)"))
    if camera.get("frame_stack") != 1:
        problems.append((f"{camera.get('frame_stack')} stacked frames (DeepRacer's cars feed one)", "--frame-stack 1"))
    fov = camera.get("fov_deg")
    if fov is not None and not any(abs(float(fov) - deg) < 0.5 for deg in LENSES):
        problems.append((f"a {float(fov):.1f}-degree lens (DeepRacer's car has {CAR_FOV_DEG:.0f} degrees, its "
                         f"simulator {DEEPRACER_CAMERA['fov_deg']:.1f})", "racekit's camera"))
    mount = camera.get("mount")
    if mount is not None and mount not in MOUNTS:
        problems.append((f"the camera mount {mount!r} (not {' or '.join(map(repr, MOUNTS))})", "racekit's mount"))
    if problems:
        whats, hints = [p[0] for p in problems], list(dict.fromkeys(p[1] for p in problems))
        raise DeepRacerError(f"{where}: trained with {_listed(whats)}; train with {_listed(hints)} to export for a "
                             f"DeepRacer car")
    channels = 2 if stereo else 1  # a stereo frame is the left picture, then the right: DeepRacer's order
    if tuple(obs_shape) != (120, 160, channels):
        raise DeepRacerError(f"{where}: the policy takes frames of shape {list(obs_shape)}, not DeepRacer's "
                             f"[120, 160, {channels}]")
    return preset


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def preset_of(network: Network, distribution: str, sensors=("front-camera",)) -> str | None:
    """The DeepRacer preset (racekit's name) whose network, as DeepRacer builds it for these sensors (racekit's
    names) and this distribution, the network is; None if it is none of them. With a LIDAR, the network must
    also join it where DeepRacer does (before the middleware)."""
    deepracer = [SENSOR_NAMES[s] for s in sensors]
    algorithm = "sac" if distribution == "squashed" else "clipped_ppo"
    lidar = any(s in LIDARS for s in sensors)
    for name in DEEPRACER_NAMES:
        expected = deepracer_network(name, deepracer, algorithm)
        if network == expected and (not lidar or network.lidar_joins == expected.lidar_joins):
            return name
    return None


def layers_of(model: ActorCritic) -> list[Layer]:
    """The policy's layers (model_modules' order) in TensorFlow's layouts: the inverse of importer.load_layers."""
    activations = {}  # each layer's activation: the module after it in its Sequential
    for sequence in (model.trunk, model.middleware, *([model.lidar_trunk] if model.lidar_size else [])):
        for module, follower in zip(sequence, list(sequence)[1:]):
            activations[id(module)] = {torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh"}.get(type(follower))
    layers = []
    for module in model_modules(model):
        activation = activations.get(id(module))
        weight = module.weight.detach().cpu().numpy().astype(np.float32)
        bias = module.bias.detach().cpu().numpy().astype(np.float32)
        if isinstance(module, torch.nn.Conv2d):
            layers.append(Layer("conv", weight.transpose(2, 3, 1, 0), bias, stride=int(module.stride[0]),
                                activation=activation))
        else:
            layers.append(Layer("dense", weight.T, bias, activation=activation))
    return layers


def deepracer_policy(model: ActorCritic, algorithm: str, sensors: list[str]) -> Policy:
    """The policy as DeepRacer's graph holds it: one branch per sensor (the camera's convolutions and its
    embedder's dense layers; the LIDAR's dense layers), then the layers after the join, the first of them with
    its rows in DeepRacer's order of the sensors (their names sorted)."""
    layers = layers_of(model)
    camera = SENSOR_NAMES[sensors[0]]
    if not model.lidar_size:  # the camera's embedder ends after the network's first `lidar_joins` dense layers
        trunk = len(model.network.convs) + model.network.lidar_joins
        return Policy([Branch(camera, input_name(algorithm, camera), model.obs_shape, layers[:trunk])],
                      layers[trunk:], model.actions.discrete)
    lidar = SENSOR_NAMES[sensors[1]]
    trunk = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.trunk)
    embedding = layers[trunk + 1].weight.shape[1]  # the LIDAR embedder's last layer's width
    after = layers[trunk + 2:]
    parts = [(camera, after[0].weight.shape[0] - embedding), (lidar, embedding)]
    after[0] = replace(after[0], weight=join_rows(after[0].weight, parts, sorted((camera, lidar))))
    branches = [Branch(camera, input_name(algorithm, camera), model.obs_shape, layers[:trunk]),
                Branch(lidar, input_name(algorithm, lidar), (model.lidar_size,), layers[trunk:trunk + 2])]
    return Policy(sorted(branches, key=lambda b: b.sensor), after, model.actions.discrete)


def write_tarball(model: ActorCritic, out: str | Path, where: str, sensors=("front-camera",),
                  lidar_config: dict | None = None) -> Exported:
    """The DeepRacer car tarball of a checked policy, built in memory, checked, then written atomically."""
    sensors = list(sensors)
    preset = preset_of(model.network, model_distribution(model), sensors)
    algorithm = "sac" if model.squashed else "clipped_ppo"
    policy = deepracer_policy(model, algorithm, sensors)
    pb = write_graph(policy.branches, policy.layers, algorithm, softmax=policy.softmax)
    metadata = write_metadata(model.actions, preset, algorithm, sensors,
                              lidar_config if "discretized-sector-lidar" in sensors else None)
    verify(model, pb, metadata, where)
    write_atomically(Path(out), tarball_bytes(pb, metadata))
    return Exported(Path(out), json.loads(metadata), algorithm, preset, where, None)


def tarball_bytes(pb: bytes, metadata: str) -> bytes:
    """A car tarball: model_metadata.json at the root, agent/model.pb (DeepRacer's own layout)."""
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as archive:
        for name, data in ((METADATA_MEMBER, metadata.encode()), (GRAPH_MEMBER, pb)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def example_inputs(model: ActorCritic, batch: int, seed: int):
    """Random frames (uint8, the first all black, the last all white) and, for a car with a LIDAR, random values
    in [0, 1] (every LIDAR form's range, or within it), to run a policy on."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (batch, *model.obs_shape), dtype=np.uint8)
    frames[0], frames[-1] = 0, 255
    if not model.lidar_size:
        return frames, None
    return frames, rng.uniform(0.0, 1.0, (batch, model.lidar_size)).astype(np.float32)


def run_policy(policy: Policy, feeds: dict[str, np.ndarray]) -> torch.Tensor:
    """A DeepRacer graph's layers run on their own, in TensorFlow's layouts (NHWC, dense [in, out]): each branch
    on its input (`feeds`, by sensor), joined in the branches' order, then the layers after the join."""
    def run(layers: list[Layer], x: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            if layer.kind == "conv":
                weight = torch.from_numpy(np.ascontiguousarray(layer.weight.transpose(3, 2, 0, 1)))
                x = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), weight, torch.from_numpy(layer.bias),
                                               stride=layer.stride).permute(0, 2, 3, 1)
            else:
                x = x.reshape(len(x), -1) @ torch.from_numpy(layer.weight) + torch.from_numpy(layer.bias)
            x = {"relu": torch.relu, "tanh": torch.tanh}.get(layer.activation, lambda v: v)(x)
        return x

    def scaled(sensor: str) -> torch.Tensor:  # a camera's 0-255 divided by 255, a LIDAR's values as they are
        return torch.from_numpy(feeds[sensor]).float() / (1.0 if sensor in DEEPRACER_LIDARS else 255.0)

    embeddings = [run(b.layers, scaled(b.sensor)) for b in policy.branches]
    joined = embeddings[0] if len(embeddings) == 1 else torch.cat([e.flatten(1) for e in embeddings], dim=-1)
    return run(policy.layers, joined)


def verify(model: ActorCritic, pb: bytes, metadata: str, where: str) -> None:
    """Read the tarball's files back as racekit's importer reads them, and run the graph's layers (on their own,
    in TensorFlow's layouts) against the policy; DeepRacerError if anything differs."""
    meta = parse_metadata(metadata, f"{where}: the written {METADATA_MEMBER}")
    policy = read_policy(parse_graph(pb, f"{where}: the written graph"), meta.algorithm, meta.sensors,
                         f"{where}: the written graph")
    frames, lidar = example_inputs(model, 2, 0)
    feeds = {meta.camera: frames, **({meta.lidar: lidar} if meta.lidar else {})}
    with torch.no_grad():
        ours = model.actor(model.joined(torch.from_numpy(frames), None if lidar is None else torch.from_numpy(lidar)))
        theirs = run_policy(policy, feeds)
    scale = max(1.0, float(ours.abs().max()))  # float32 sums of ~10^4 terms in another order: relative error only
    if (policy.softmax != model.actions.discrete or meta.actions != model.actions
            or float((ours - theirs).abs().max()) > 1e-4 * scale):
        raise DeepRacerError(f"{where}: the written graph does not compute the policy (a bug in racekit's export)")


def bare_model(obs_shape: tuple, actions, distribution: str, network: Network, lidar_size: int = 0) -> ActorCritic:
    """An ActorCritic whose weights are about to be loaded: built without initialising them (the orthogonal
    initialisation of the shallow preset's dense layer takes seconds); the value head is zero."""
    with torch.device("meta"):
        model = ActorCritic(obs_shape, actions, distribution=distribution, network=network, lidar_size=lidar_size)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    return model.eval()


def model_distribution(model: ActorCritic) -> str:
    return "squashed" if model.squashed else ("beta" if model.beta else "gaussian")


def export_model_file(path: str | Path, out: str | Path) -> Exported:
    """A racekit model file imported from DeepRacer (metadata with "deepracer" and "network") -> a car tarball.

    The weights are read back from the ONNX graph by its structure (each Conv and Gemm in order, their weight
    and bias through any Identity the exporter left), checked against the file itself with onnxruntime."""
    path = Path(path)
    model_proto, meta = _read_model_file(path)
    imported = meta.get("deepracer")
    if not isinstance(imported, dict) or "network" not in meta:
        raise DeepRacerError(f"{path}: not a model imported from DeepRacer (its metadata has no 'deepracer'); to "
                             f"export a model you trained, export its run: racekit export RUN --format deepracer")
    algorithm = imported.get("algorithm", "clipped_ppo")
    try:
        actions = spec_from_dict(meta["action_space"])
        network = as_network(meta["network"])
    except (KeyError, TypeError, ValueError, IndexError):
        raise DeepRacerError(f"{path}: its metadata's action_space or network is not one racekit knows") from None
    distribution = "squashed" if algorithm == "sac" else "gaussian"
    if algorithm == "sac":
        network = replace(network, dense=network.dense + SAC_HEAD)
    # the model file keeps its sensors beside the camera; a checkpoint's camera dict holds them
    camera = {**(meta.get("camera") or {}), **{k: meta[k] for k in ("sensors", "lidar_config") if meta.get(k)}}
    sensors = sensors_of(camera)
    shape = (camera.get("height"), camera.get("width"), (camera.get("channels") or 1) * (camera.get("cameras") or 1))
    check_exportable(str(path), network, distribution, camera, shape)
    lidar = next((s for s in sensors if s in LIDARS), None)
    size = 0 if lidar is None else int(lidar_space(lidar, LidarConfig.from_dict(camera.get("lidar_config"))).shape[0])
    model = bare_model(shape, actions, distribution, network, size)
    _load_onnx_weights(model, model_proto, path)
    _check_against_file(model, model_proto, path)
    exported = write_tarball(model, out, str(path), sensors, camera.get("lidar_config"))
    exported.source = str(path)
    return exported


def _read_model_file(path: Path):
    import onnx

    if not path.is_file():
        raise DeepRacerError(f"{path}: no such model file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # a damaged protobuf can raise DecodeError, ValueError, ...
        raise DeepRacerError(f"{path}: not an ONNX model file ({type(exc).__name__})") from None
    raw = next((p.value for p in model.metadata_props if p.key == METADATA_KEY), None)
    try:
        meta = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict):
        raise DeepRacerError(f"{path}: not a racekit model file (no racekit metadata)")
    return model, meta


def _load_onnx_weights(model: ActorCritic, proto, path: Path) -> None:
    from onnx import numpy_helper

    values = {t.name: np.array(numpy_helper.to_array(t)) for t in proto.graph.initializer}  # writable copies
    for node in proto.graph.node:  # in topological order, as ONNX requires
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = np.array(numpy_helper.to_array(node.attribute[0].t))
        elif node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    layers = []
    for node in proto.graph.node:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        attrs = {a.name: a for a in node.attribute}
        try:
            weight, bias = values[node.input[1]], values[node.input[2]]
        except (KeyError, IndexError):
            raise DeepRacerError(f"{path}: its {node.op_type} node {node.name!r} has no constant weight and "
                                 f"bias") from None
        if node.op_type == "Conv":
            layers.append(Layer("conv", weight.transpose(2, 3, 1, 0), bias, stride=int(attrs["strides"].ints[0])
                                if "strides" in attrs else 1))
        else:
            if "transA" in attrs and attrs["transA"].i:
                raise DeepRacerError(f"{path}: a Gemm node with its input transposed, not racekit's")
            trans_b = "transB" in attrs and attrs["transB"].i
            layers.append(Layer("dense", weight.T if trans_b else weight, bias))
    try:
        load_layers(model, layers)
    except RuntimeError as exc:  # copy_ of a wrong shape
        raise DeepRacerError(f"{path}: its weights do not fit the network its metadata names "
                             f"({str(exc).splitlines()[0]})") from None


def _check_against_file(model: ActorCritic, proto, path: Path) -> None:
    """The rebuilt policy's actions against onnxruntime running the file: the weights were read back right."""
    import onnxruntime as ort

    frames, lidar = example_inputs(model, 4, 1)
    feeds = {INPUT_NAME: frames, **({LIDAR_INPUT: lidar} if lidar is not None else {})}
    try:
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        (theirs,) = session.run(None, feeds)
    except Exception as exc:  # onnxruntime's own error classes
        raise DeepRacerError(f"{path}: onnxruntime cannot run it ({str(exc).strip().splitlines()[0]})") from None
    with torch.no_grad():
        ours = DeterministicPolicy(model).eval()(torch.from_numpy(frames),
                                                 None if lidar is None else torch.from_numpy(lidar)).numpy()
    if not np.allclose(ours, theirs, atol=1e-3):
        raise DeepRacerError(f"{path}: the weights read back from the file do not give its actions (not a racekit "
                             f"DeepRacer network?)")

