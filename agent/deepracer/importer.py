"""A DeepRacer model -> a racekit policy (PyTorch) and a racekit model file (ONNX), without TensorFlow.

The policy is racekit's ActorCritic with the graph's DeepRacer network (agent/networks.py), its weights
copied from the graph: conv kernels HWIO -> OIHW, dense kernels transposed; DeepRacer's networks flatten
in TensorFlow's order, so no rows are reordered. The action mapping is DeepRacer's
(../shared/deepracer-models/README.md, "Observations and actions"), and racekit's DeterministicPolicy
already does each: discrete, argmax over the metadata's action list; continuous PPO, the mean clipped to
[-1, 1] then mapped linearly to [low, high]; SAC, tanh of the mean then scaled. The camera is DeepRacer's:
160x120 grey, 0-255 (the graph divides by 255; racekit's network does the same), its simulator's lens and
mount, and its look.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from racekit.agent.deepracer.errors import DeepRacerError
from racekit.agent.deepracer.graph import Layer, Policy, parse_graph, read_policy
from racekit.agent.deepracer.metadata import SIMULATED, DeepRacerMetadata, parse_metadata
from racekit.agent.deepracer.sources import Source, open_source
from racekit.agent.export import CONTROL_HZ, FORMAT, model_file_bytes, racekit_version, write_atomically
from racekit.agent.networks import NETWORKS, Network
from racekit.agent.policy import ActorCritic, DeterministicPolicy
from racekit.sim.camera import DEEPRACER_FOV_DEG as SIM_DEEPRACER_FOV_DEG

DEEPRACER_FOV_DEG = round(SIM_DEEPRACER_FOV_DEG, 2)  # DeepRacer's simulator camera (1.13 rad), as metadata keeps it
DEEPRACER_CAMERA = {"width": 160, "height": 120, "channels": 1, "fov_deg": DEEPRACER_FOV_DEG, "frame_stack": 1,
                    "mount": "deepracer", "look": "deepracer"}
SAC_HEAD = ((256, "relu"),)  # deepracer-simapp's SAC policy head: dense 256, then the mean
MAPPINGS = {"discrete": "argmax over the action list",
            "clipped_ppo": "clip the mean to [-1, 1], then map linearly to [low, high]",
            "sac": "tanh of the mean, then (high - low) / 2 * tanh + (high + low) / 2"}


@dataclass
class Imported:
    model: ActorCritic  # in eval mode; its critic is fresh (DeepRacer's frozen graph holds the policy only)
    meta: DeepRacerMetadata
    source: Source
    network: Network


def load_deepracer(source: str | Path, checkpoint: str = "best") -> Imported:
    """Read a DeepRacer model (any layout) into a racekit ActorCritic; DeepRacerError, one line, otherwise."""
    found = open_source(source, checkpoint)
    meta = parse_metadata(found.metadata, found.metadata_name)
    unsimulated = [s for s in meta.sensors if s not in SIMULATED]
    if unsimulated:
        raise DeepRacerError(f"{found.metadata_name}: the model drives with {' and '.join(unsimulated)}, which "
                             f"racekit does not import yet: it reads DeepRacer models of the front camera alone "
                             f"(racekit simulates and trains DeepRacer's other sensors: racekit train --sensor)")
    policy = read_policy(parse_graph(found.graph, found.graph_name), meta.algorithm, meta.camera, found.graph_name)
    network = network_of(policy, found.graph_name)
    expected = NETWORKS[meta.network]
    if meta.algorithm == "sac":  # SAC's policy head has a hidden layer of its own
        expected = replace(expected, dense=expected.dense + SAC_HEAD)
    if network != expected:
        raise DeepRacerError(f"{found.graph_name}: the graph's layers are not those of {meta.raw.get('neural_network')} "
                             f"(as {found.metadata_name} says) for {meta.algorithm}")
    want = len(meta.actions.table) if meta.actions.discrete else 2
    got = policy.layers[-1].weight.shape[1]
    if got != want:
        what = f"{want} actions in its action_space" if meta.actions.discrete else "a continuous action space"
        raise DeepRacerError(f"{found.graph_name}: the network outputs {got} values, but {found.metadata_name} "
                             f"has {what}")
    if meta.actions.discrete != policy.softmax:
        raise DeepRacerError(f"{found.graph_name}: the network's head {'ends' if policy.softmax else 'does not end'} "
                             f"in a softmax, but {found.metadata_name} says {'continuous' if policy.softmax else 'discrete'}")
    distribution = "squashed" if meta.algorithm == "sac" else "gaussian"
    model = ActorCritic(policy.input_shape, meta.actions, distribution=distribution, network=network)
    load_layers(model, policy.layers)
    return Imported(model.eval(), meta, found, network)


def network_of(policy: Policy, where: str) -> Network:
    """The racekit network whose layers are the graph's (all but the head), after checking its input."""
    if len(policy.input_shape) != 3 or policy.input_shape[2] != 1:
        raise DeepRacerError(f"{where}: the camera input has shape {list(policy.input_shape)}, not [120, 160, 1]")
    convs = [layer for layer in policy.layers if layer.kind == "conv"]
    dense = [layer for layer in policy.layers if layer.kind == "dense"]
    if policy.layers != convs + dense or not convs or len(dense) < 2:
        raise DeepRacerError(f"{where}: not a DeepRacer camera network (convolutions, then dense layers)")
    for layer in policy.layers[:-1]:
        if layer.activation is None:
            raise DeepRacerError(f"{where}: a hidden layer without an activation")
    return Network(convs=tuple((int(c.weight.shape[3]), int(c.weight.shape[0]), c.stride, c.activation) for c in convs),
                   dense=tuple((int(d.weight.shape[1]), d.activation) for d in dense[:-1]), flatten="hwc")


def load_layers(model: ActorCritic, layers: list[Layer]) -> None:
    """Copy the graph's weights into the model's trunk and actor (shapes checked by copy_)."""
    targets = [m for m in model.trunk if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))] + [model.actor]
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
        "camera": dict(DEEPRACER_CAMERA),
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
        "network": meta.network,
        "deepracer": {"source": str(found.path), "layout": found.layout, "sha256": found.sha256,
                      "graph": found.graph_name, "checkpoint": found.checkpoint,
                      "algorithm": meta.algorithm, "sensors": list(meta.sensors), "model_metadata": meta.raw},
    }
