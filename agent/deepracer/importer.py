"""A DeepRacer model -> a racekit policy (PyTorch) and a racekit model file (ONNX), without TensorFlow.

The policy is racekit's ActorCritic with the graph's DeepRacer network (agent/networks.py), its weights
copied from the graph: conv kernels HWIO -> OIHW, dense kernels transposed; DeepRacer's networks flatten
in TensorFlow's order, so no rows are reordered. The action mapping is DeepRacer's
(../shared/deepracer-models/README.md, "Observations and actions"), and racekit's DeterministicPolicy
already does each: discrete, argmax over the metadata's action list; continuous PPO, the mean clipped to
[-1, 1] then mapped linearly to [low, high]; SAC, tanh of the mean then scaled. The camera is DeepRacer's:
160x120 grey, 0-255 (the graph divides by 255; racekit's network does the same), its simulator's lens and
mount, and its look.

Sensors (model_metadata.json's `sensor`): a stereo pair's input is [120, 160, 2], the left picture then the
right, as racekit's stereo frames are (one frame: DeepRacer stacks none), so frames go over unchanged. A LIDAR's
input is its values as racekit's env gives them (sim/sensors.py computes each form as DeepRacer does); its
embedder (dense 256, 256) joins the camera's before the middleware, as in racekit's DeepRacer networks, and the
first layer after the join has its rows put from the merger's order (the sensors' names sorted: LIDAR before
STEREO_CAMERAS, FRONT_FACING_CAMERA before LIDAR) into racekit's (the camera, then the LIDAR).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from racekit.agent.deepracer.errors import DeepRacerError
from racekit.agent.deepracer.graph import Layer, Policy, parse_graph, read_policy
from racekit.agent.deepracer.metadata import RACEKIT_NAMES, DeepRacerMetadata, parse_metadata
from racekit.agent.deepracer.sources import Source, open_source
from racekit.agent.export import CONTROL_HZ, FORMAT, model_file_bytes, racekit_version, write_atomically
from racekit.agent.networks import NETWORKS, Network, name_of
from racekit.agent.policy import LIDAR_HIDDEN, ActorCritic, DeterministicPolicy
from racekit.sim.camera import DEEPRACER_FOV_DEG as SIM_DEEPRACER_FOV_DEG
from racekit.sim.sensors import LidarConfig, lidar_space

DEEPRACER_FOV_DEG = round(SIM_DEEPRACER_FOV_DEG, 2)  # DeepRacer's simulator camera (1.13 rad), as metadata keeps it
DEEPRACER_CAMERA = {"width": 160, "height": 120, "channels": 1, "fov_deg": DEEPRACER_FOV_DEG, "frame_stack": 1,
                    "mount": "deepracer", "look": "deepracer"}
SAC_HEAD = ((256, "relu"),)  # deepracer-simapp's SAC policy head: dense 256, then the mean
# deepracer-simapp sensors/utils.py: the stereo pair's embedder for the standard and deep presets (the shallow
# preset's is the front camera's), and architecture/custom_architectures.py: the middleware after the embedders
STEREO_CONVS = ((32, 3, 1, "relu"), (64, 3, 2, "relu"), (64, 3, 1, "relu"), (128, 3, 2, "relu"), (128, 3, 1, "relu"))
MIDDLEWARES = {"deepracer-shallow": ((512, "relu"),), "deepracer-standard": ((512, "relu"),),
               "deepracer-deep": ((256, "relu"), (128, "relu"))}
MAPPINGS = {"discrete": "argmax over the action list",
            "clipped_ppo": "clip the mean to [-1, 1], then map linearly to [low, high]",
            "sac": "tanh of the mean, then (high - low) / 2 * tanh + (high + low) / 2"}


@dataclass
class Imported:
    model: ActorCritic  # in eval mode; its critic is fresh (DeepRacer's frozen graph holds the policy only)
    meta: DeepRacerMetadata
    source: Source
    network: Network

    def camera(self) -> dict:
        """The camera dict of a checkpoint or model file: DeepRacer's camera, and the sensors beside it."""
        return camera_of(self.meta)


def camera_of(meta: DeepRacerMetadata) -> dict:
    """DeepRacer's camera, with the model's sensors by racekit's names (none for a camera alone, as racekit's
    own runs say it), a stereo pair's "cameras": 2 and a discretised LIDAR's lidar_config."""
    camera = dict(DEEPRACER_CAMERA)
    sensors = meta.racekit_sensors
    if sensors != ["front-camera"]:
        camera["sensors"] = sensors
    if sensors[0] == "stereo-cameras":
        camera["cameras"] = 2  # each frame the left picture, then the right (grey), as DeepRacer stacks them
    if meta.lidar_config:
        camera["lidar_config"] = dict(meta.lidar_config)
    return camera


def lidar_size(meta: DeepRacerMetadata) -> int:
    """How many values the model's LIDAR input has (0 without one)."""
    if meta.lidar is None:
        return 0
    return int(lidar_space(RACEKIT_NAMES[meta.lidar], LidarConfig.from_dict(meta.lidar_config)).shape[0])


def deepracer_network(preset: str, sensors, algorithm: str) -> Network:
    """The network DeepRacer builds for a preset (racekit's name), a model's sensors (DeepRacer's names) and its
    algorithm: the preset's camera embedder and middleware, except a stereo pair's own embedder for the standard
    and deep presets (deepracer-simapp sensors/utils.py), then SAC's dense 256."""
    network = NETWORKS[preset]
    if "STEREO_CAMERAS" in sensors and preset != "deepracer-shallow":
        network = Network(STEREO_CONVS, MIDDLEWARES[preset], "hwc", lidar_joins=0)
    if algorithm == "sac":  # SAC's policy head has a hidden layer of its own
        network = replace(network, dense=network.dense + SAC_HEAD)
    return network


def load_deepracer(source: str | Path, checkpoint: str = "best") -> Imported:
    """Read a DeepRacer model (any layout) into a racekit ActorCritic; DeepRacerError, one line, otherwise."""
    found = open_source(source, checkpoint)
    meta = parse_metadata(found.metadata, found.metadata_name)
    where = found.graph_name
    policy = read_policy(parse_graph(found.graph, where), meta.algorithm, meta.sensors, where)
    camera = policy.branch(meta.camera)
    channels = 2 if meta.camera == "STEREO_CAMERAS" else 1
    if tuple(camera.input_shape) != (120, 160, channels):
        raise DeepRacerError(f"{where}: the {meta.camera} input has shape {list(camera.input_shape)}, not "
                             f"[120, 160, {channels}]")
    size = lidar_size(meta)
    if meta.lidar is not None:
        lidar = policy.branch(meta.lidar)
        if tuple(lidar.input_shape) != (size,):
            fields = "sensor and lidar_config say" if meta.lidar_config else "sensor says"
            raise DeepRacerError(f"{where}: the {meta.lidar} input has shape {list(lidar.input_shape)}, not [{size}] "
                                 f"(as {found.metadata_name}'s {fields})")
        shapes = [(layer.kind, layer.weight.shape[1], layer.activation) for layer in lidar.layers]
        if shapes != [("dense", LIDAR_HIDDEN, "relu")] * 2:
            raise DeepRacerError(f"{where}: the {meta.lidar} embedder is not DeepRacer's (dense 256, 256, ReLU)")
    network = network_of(policy, meta, where)
    expected = deepracer_network(meta.network, meta.sensors, meta.algorithm)
    if network != expected:
        raise DeepRacerError(f"{where}: the graph's layers are not those of {meta.raw.get('neural_network')} "
                             f"(as {found.metadata_name} says) for {meta.algorithm} with {', '.join(meta.sensors)}")
    want = len(meta.actions.table) if meta.actions.discrete else 2
    got = policy.layers[-1].weight.shape[1]
    if got != want:
        what = f"{want} actions in its action_space" if meta.actions.discrete else "a continuous action space"
        raise DeepRacerError(f"{where}: the network outputs {got} values, but {found.metadata_name} "
                             f"has {what}")
    if meta.actions.discrete != policy.softmax:
        ends, says = ("ends", "continuous") if policy.softmax else ("does not end", "discrete")
        raise DeepRacerError(f"{where}: the network's head {ends} in a softmax, but {found.metadata_name} says {says}")
    distribution = "squashed" if meta.algorithm == "sac" else "gaussian"
    model = ActorCritic(camera.input_shape, meta.actions, distribution=distribution, network=network,
                        lidar_size=size)
    load_layers(model, racekit_layers(policy, meta))
    return Imported(model.eval(), meta, found, network)


def network_of(policy: Policy, meta: DeepRacerMetadata, where: str) -> Network:
    """The racekit network whose layers are the graph's: the camera's embedder, then the layers after the join
    but the head; a LIDAR joins where the graph joins it."""
    branch = policy.branch(meta.camera)
    layers = branch.layers + policy.layers if meta.lidar else policy.layers
    convs = [layer for layer in layers if layer.kind == "conv"]
    dense = [layer for layer in layers if layer.kind == "dense"]
    if layers != convs + dense or not convs or len(dense) < 2:
        raise DeepRacerError(f"{where}: not a DeepRacer camera network (convolutions, then dense layers)")
    for layer in layers[:-1]:
        if layer.activation is None:
            raise DeepRacerError(f"{where}: a hidden layer without an activation")
    joins = (len([layer for layer in branch.layers if layer.kind == "dense"]) if meta.lidar
             else NETWORKS[meta.network].lidar_joins)
    return Network(convs=tuple((int(c.weight.shape[3]), int(c.weight.shape[0]), c.stride, c.activation) for c in convs),
                   dense=tuple((int(d.weight.shape[1]), d.activation) for d in dense[:-1]), flatten="hwc",
                   lidar_joins=joins)


def racekit_layers(policy: Policy, meta: DeepRacerMetadata) -> list[Layer]:
    """The graph's layers in the order of the model's modules (model_modules): the camera's, the LIDAR's, then
    those after the join, whose first weight's rows go from the merger's order of the sensors to racekit's
    (the camera's embedding, then the LIDAR's)."""
    if meta.lidar is None:
        return list(policy.layers)
    camera, lidar = policy.branch(meta.camera), policy.branch(meta.lidar)
    first, rest = policy.layers[0], policy.layers[1:]
    lidar_rows = int(lidar.layers[-1].weight.shape[1])
    parts = [(b.sensor, lidar_rows if b.sensor == meta.lidar else first.weight.shape[0] - lidar_rows)
             for b in policy.branches]
    first = replace(first, weight=join_rows(first.weight, parts, [meta.camera, meta.lidar]))
    return camera.layers + lidar.layers + [first] + rest


def join_rows(weight: np.ndarray, parts: list[tuple[str, int]], order: list[str]) -> np.ndarray:
    """The weight [in, out] of the layer after a join, its rows given per sensor as `parts` ((sensor, rows) in
    the join's order), with the sensors' rows put in `order`."""
    spans, start = {}, 0
    for sensor, rows in parts:
        spans[sensor] = slice(start, start + rows)
        start += rows
    return np.ascontiguousarray(np.concatenate([weight[spans[sensor]] for sensor in order]))


def model_modules(model: ActorCritic) -> list[torch.nn.Module]:
    """The model's convolutions and dense layers in the order they run: the camera's trunk, the LIDAR's, the
    middleware after the join, the actor (what an ONNX export holds, in this order too)."""
    modules = list(model.trunk)
    if model.lidar_size:
        modules += list(model.lidar_trunk) + list(model.middleware)
    return [m for m in modules if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))] + [model.actor]


def load_layers(model: ActorCritic, layers: list[Layer]) -> None:
    """Copy the graph's weights (model_modules' order) into the model (shapes checked by copy_)."""
    targets = model_modules(model)
    if len(targets) != len(layers):
        raise DeepRacerError(f"the graph has {len(layers)} layers, the network {len(targets)}")
    with torch.no_grad():
        for target, layer in zip(targets, layers):
            weight = layer.weight.transpose(3, 2, 0, 1) if layer.kind == "conv" else layer.weight.T
            target.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            target.bias.copy_(torch.from_numpy(layer.bias))


def import_model(source: str | Path, out: str | Path, checkpoint: str = "best",
                 racekit_version_: str | None = None) -> dict:
    """Write a DeepRacer model as a racekit model file at `out`; returns its metadata. Nothing is written on error."""
    imported = load_deepracer(source, checkpoint)
    meta = model_metadata(imported, racekit_version_)
    policy = DeterministicPolicy(imported.model).eval()
    write_atomically(Path(out), model_file_bytes(policy, imported.model.obs_shape, meta))
    return meta


def model_metadata(imported: Imported, racekit_version_: str | None = None) -> dict:
    """The racekit model file's metadata of an imported model, with where it came from."""
    meta, found = imported.meta, imported.source
    mapping = MAPPINGS["discrete" if meta.actions.discrete else meta.algorithm]
    return {
        "format": FORMAT,
        "racekit_version": racekit_version_ or racekit_version(),
        "camera": {k: v for k, v in imported.camera().items() if k not in ("sensors", "lidar_config")},
        "sensors": meta.racekit_sensors,
        **({"lidar_config": dict(meta.lidar_config)} if meta.lidar_config else {}),
        "control_hz": CONTROL_HZ,  # DeepRacer's camera and control rate, 15 Hz
        "action_space": meta.actions.as_dict(),
        "action_mapping": mapping,
        "track": None,
        "reward_sha256": None,
        "training_steps": None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checkpoint": found.checkpoint,
        "tracks": [], "directions": "forward", "race_type": "time-trial", "race_options": {},
        "randomize": "none", "from": None,
        "network": network_value(imported.network, meta),
        "deepracer": {"source": str(found.path), "layout": found.layout, "sha256": found.sha256,
                      "graph": found.graph_name, "checkpoint": found.checkpoint,
                      "algorithm": meta.algorithm, "sensors": list(meta.sensors), "model_metadata": meta.raw},
    }


def network_value(network: Network, meta: DeepRacerMetadata) -> str | dict:
    """The model file's "network": the preset's name where the network is the preset (SAC's head aside, which the
    algorithm says), else the network itself (a stereo pair's own, for the standard and deep presets)."""
    if meta.algorithm == "sac":
        network = replace(network, dense=network.dense[:-len(SAC_HEAD)])
    name = name_of(network)
    if name == meta.network and network.lidar_joins == NETWORKS[name].lidar_joins:
        return name
    return network.as_dict()
