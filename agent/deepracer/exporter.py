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
Anything DeepRacer cannot express is refused with one line naming the source and saying what to train instead:
racekit's own network, a camera other than 160x120 grey single frames, the Beta distribution, a lens or mount
that is neither DeepRacer's car's nor its simulator's. The tarball is built in memory and checked (read back by
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
from racekit.agent.deepracer.graph import Layer, parse_graph, read_policy
from racekit.agent.deepracer.graph_writer import write_graph
from racekit.agent.deepracer.importer import DEEPRACER_CAMERA, SAC_HEAD, load_layers
from racekit.agent.deepracer.metadata import parse_metadata, write_metadata
from racekit.agent.export import (METADATA_KEY, distribution_of, find_checkpoint, load_policy_checkpoint,
                                  spec_from_dict, write_atomically)
from racekit.agent.networks import DEEPRACER_NAMES, Network, as_network, name_of
from racekit.agent.policy import ActorCritic, DeterministicPolicy

GRAPH_MEMBER, METADATA_MEMBER = "agent/model.pb", "model_metadata.json"
SENSOR = "FRONT_FACING_CAMERA"
EMBEDDER_DENSE = {"deepracer-shallow": 0, "deepracer-standard": 1, "deepracer-deep": 2}  # dense layers in the camera
# embedder (the rest are the middleware's): names only
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
    check_exportable(where, model.network, distribution_of(state), state["camera"], model.obs_shape)
    exported = write_tarball(model, out, where)
    exported.source, exported.training_steps = str(checkpoint), int(state.get("global_step", 0))
    return exported


def check_exportable(where: str, network: Network, distribution: str, camera: dict, obs_shape: tuple) -> str:
    """DeepRacerError, one line naming `where`, all that DeepRacer cannot run and what to train instead, unless
    DeepRacer can express the policy; returns racekit's name of its DeepRacer preset."""
    preset = preset_of(network, distribution)
    problems: list[tuple[str, str]] = []  # (what it was trained with, what to train with)
    if name_of(network) == "racekit":
        problems.append(("racekit's network", TRAIN_HINT))
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
    sensors = list(camera.get("sensors") or ["front-camera"])
    if sensors != ["front-camera"]:
        problems.append((f"the sensors {', '.join(sensors)} (racekit writes DeepRacer models of the front camera "
                         f"alone so far)", "no --sensor"))
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
    if tuple(obs_shape) != (120, 160, 1):
        raise DeepRacerError(f"{where}: the policy takes frames of shape {list(obs_shape)}, not DeepRacer's "
                             f"[120, 160, 1]")
    return preset


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def preset_of(network: Network, distribution: str) -> str | None:
    """The DeepRacer preset (racekit's name) a network is for this distribution; None if it is none of them."""
    if distribution == "squashed":  # SAC: a preset, then the policy head's dense 256
        if network.dense[-len(SAC_HEAD):] != SAC_HEAD:
            return None
        network = replace(network, dense=network.dense[:-len(SAC_HEAD)])
    name = name_of(network)
    return name if name in DEEPRACER_NAMES else None


def layers_of(model: ActorCritic) -> list[Layer]:
    """The policy's layers (trunk and actor) in TensorFlow's layouts: the inverse of importer.load_layers."""
    modules = list(model.trunk) + [model.actor]
    layers = []
    for i, module in enumerate(modules):
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            continue
        follower = modules[i + 1] if i + 1 < len(modules) else None
        activation = {torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh"}.get(type(follower))
        weight = module.weight.detach().cpu().numpy().astype(np.float32)
        bias = module.bias.detach().cpu().numpy().astype(np.float32)
        if isinstance(module, torch.nn.Conv2d):
            layers.append(Layer("conv", weight.transpose(2, 3, 1, 0), bias, stride=int(module.stride[0]),
                                activation=activation))
        else:
            layers.append(Layer("dense", weight.T, bias, activation=activation))
    return layers


def write_tarball(model: ActorCritic, out: str | Path, where: str) -> Exported:
    """The DeepRacer car tarball of a checked policy, built in memory, checked, then written atomically."""
    preset = preset_of(model.network, model_distribution(model))
    algorithm = "sac" if model.squashed else "clipped_ppo"
    pb = write_graph(layers_of(model), algorithm, softmax=model.actions.discrete,
                     embedder_dense=EMBEDDER_DENSE[preset], sensor=SENSOR)
    metadata = write_metadata(model.actions, preset, algorithm)
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


def verify(model: ActorCritic, pb: bytes, metadata: str, where: str) -> None:
    """Read the tarball's files back as racekit's importer reads them, and run the graph's layers (on their own,
    in TensorFlow's layouts) against the policy; DeepRacerError if anything differs."""
    meta = parse_metadata(metadata, f"{where}: the written {METADATA_MEMBER}")
    policy = read_policy(parse_graph(pb, f"{where}: the written graph"), meta.algorithm, meta.camera,
                         f"{where}: the written graph")
    frames = np.random.default_rng(0).integers(0, 256, (2, 120, 160, 1), dtype=np.uint8)
    with torch.no_grad():
        ours = model.actor(model.features(torch.from_numpy(frames)))
        x = torch.from_numpy(frames).float() / 255.0  # NHWC, as the graph takes it
        for layer in policy.layers:
            if layer.kind == "conv":
                weight = torch.from_numpy(np.ascontiguousarray(layer.weight.transpose(3, 2, 0, 1)))
                x = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), weight, torch.from_numpy(layer.bias),
                                               stride=layer.stride).permute(0, 2, 3, 1)
            else:
                x = x.reshape(len(x), -1) @ torch.from_numpy(layer.weight) + torch.from_numpy(layer.bias)
            x = {"relu": torch.relu, "tanh": torch.tanh}.get(layer.activation, lambda v: v)(x)
    scale = max(1.0, float(ours.abs().max()))  # float32 sums of ~10^4 terms in another order: relative error only
    if (policy.softmax != model.actions.discrete or meta.actions != model.actions
            or float((ours - x).abs().max()) > 1e-4 * scale):
        raise DeepRacerError(f"{where}: the written graph does not compute the policy (a bug in racekit's export)")


def bare_model(obs_shape: tuple, actions, distribution: str, network: Network) -> ActorCritic:
    """An ActorCritic whose weights are about to be loaded: built without initialising them (the orthogonal
    initialisation of the shallow preset's dense layer takes seconds); the value head is zero."""
    with torch.device("meta"):
        model = ActorCritic(obs_shape, actions, distribution=distribution, network=network)
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
    camera = meta.get("camera") or {}
    shape = (camera.get("height"), camera.get("width"), camera.get("channels"))
    check_exportable(str(path), network, distribution, camera, shape)
    model = bare_model(shape, actions, distribution, network)
    _load_onnx_weights(model, model_proto, path)
    _check_against_file(model, model_proto, path)
    exported = write_tarball(model, out, str(path))
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

    frames = np.random.default_rng(1).integers(0, 256, (4, 120, 160, 1), dtype=np.uint8)
    frames[0], frames[1] = 0, 255
    try:
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        (theirs,) = session.run(None, {session.get_inputs()[0].name: frames})
    except Exception as exc:  # onnxruntime's own error classes
        raise DeepRacerError(f"{path}: onnxruntime cannot run it ({str(exc).strip().splitlines()[0]})") from None
    with torch.no_grad():
        ours = DeterministicPolicy(model).eval()(torch.from_numpy(frames)).numpy()
    if not np.allclose(ours, theirs, atol=1e-3):
        raise DeepRacerError(f"{path}: the weights read back from the file do not give its actions (not a racekit "
                             f"DeepRacer network?)")

