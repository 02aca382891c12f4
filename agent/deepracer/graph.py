"""A DeepRacer frozen graph (GraphDef) read into a list of layers, without TensorFlow.

DeepRacer's policy path (../shared/deepracer-models/README.md, "The frozen graph"): a float placeholder
of 0-255 grey frames, NHWC; `RealDiv` by 255 and `Sub` 0; convolutions (`Conv2D`, `BiasAdd`, an
activation; the deep preset adds batch norm); a flatten (`Reshape`); dense layers (`MatMul`, `BiasAdd`,
an activation); a gradient rescaler that is the identity when run (`Mul`, `Add`, `StopGradient`, `Pack`,
`StridedSlice`); the head's dense layer, then `Softmax` (discrete PPO) or nothing (continuous PPO's mean,
SAC's mean before tanh). Graphs written by older and newer simapps name their inner nodes differently,
so only the input and output are found by name (by suffix: multi-agent runs rename `agent`); the layers
are found by walking back from the output along the data, and any op off that list is refused by name.

A model with more than one sensor (a camera and a LIDAR) has one placeholder per sensor, each with its own
embedder (a LIDAR's: `RealDiv` by 1, `Sub` 0, dense 256, 256, a flatten), joined by a `ConcatV2` (rl_coach's
"merger", its inputs in the sensors' names' sorted order) before the middleware: the walk back from the output
stops at the merger and walks each of its inputs back to its placeholder.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import graph_pb2, tensor_pb2
from tensorboard.compat.proto.types_pb2 import DT_FLOAT, DT_INT32

from racekit.agent.deepracer.errors import DeepRacerError

PPO_PREFIX, SAC_PREFIX = "main_level/agent/main/online", "main_level/agent/policy/online"
PPO_OUTPUT = "network_1/ppo_head_0/policy"
SAC_OUTPUT = "network_0/sac_policy_head_0/policy"
PASS_THROUGH = {"Identity", "StopGradient", "Pack", "StridedSlice", "Reshape"}  # on the data path: shape only
BATCH_NORMS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}
ACTIVATIONS = {"Relu": "relu", "Tanh": "tanh"}
CONCATS = {"ConcatV2", "Concat"}  # rl_coach's merger of the sensors' embeddings
LIDARS = ("LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")


@dataclass
class Layer:
    """One convolution or dense layer, weights in TensorFlow's layouts (conv HWIO, dense [in, out])."""

    kind: str  # "conv" or "dense"
    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    activation: str | None = None  # "relu", "tanh" or None (the head)


@dataclass
class Branch:
    """One sensor's input and its embedder's layers, up to where the sensors' embeddings are joined."""

    sensor: str  # DeepRacer's name, e.g. "STEREO_CAMERAS", "LIDAR"
    input_name: str
    input_shape: tuple[int, ...]  # without the batch: (120, 160, 1), (64,)
    layers: list[Layer]


@dataclass
class Policy:
    """What the walk found: each sensor's branch in the merger's order, the layers after the merger (for one
    sensor: all of them, its branch's list is empty), and how the head ends."""

    branches: list[Branch]
    layers: list[Layer]
    softmax: bool

    def branch(self, sensor: str) -> Branch:
        return next(b for b in self.branches if b.sensor == sensor)


def parse_graph(data: bytes, where: str) -> graph_pb2.GraphDef:
    graph = graph_pb2.GraphDef()
    try:
        graph.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise DeepRacerError(f"{where}: not a TensorFlow frozen graph, or a truncated one ({exc})") from None
    if not graph.node:
        raise DeepRacerError(f"{where}: not a TensorFlow frozen graph (no nodes)")
    return graph


def tensor_value(tensor: tensor_pb2.TensorProto) -> np.ndarray:
    dtype = {DT_FLOAT: np.float32, DT_INT32: np.int32}.get(tensor.dtype)
    if dtype is None:
        raise ValueError(f"constant of dtype {tensor.dtype}")
    shape = [d.size for d in tensor.tensor_shape.dim]
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype=dtype).reshape(shape).copy()
    values = tensor.float_val if dtype == np.float32 else tensor.int_val
    if len(values) == 1 and int(np.prod(shape)) != 1:
        return np.full(shape, values[0], dtype)
    return np.array(values, dtype).reshape(shape)


class _Walk:
    """Walks a GraphDef back from its output; every method raises DeepRacerError naming the file."""

    def __init__(self, graph: graph_pb2.GraphDef, where: str):
        self.nodes = {node.name: node for node in graph.node}
        self.where = where
        self.bias = self.scale = None  # met on the walk back before the layer they belong to
        self.live: set[str] = set()  # the nodes that read an input (set by `reading`)
        self.divisor = None  # the RealDiv met on the walk back: 255 for a camera, 1 for a LIDAR

    def reading(self, placeholders: list[str]) -> None:
        """Mark every node that reads one of the placeholders, so that a node's data inputs are known."""
        consumers: dict[str, list[str]] = {}
        for node in self.nodes.values():
            for name in node.input:
                if not name.startswith("^"):
                    consumers.setdefault(name.split(":")[0], []).append(node.name)
        todo = list(placeholders)
        while todo:
            name = todo.pop()
            if name not in self.live:
                self.live.add(name)
                todo.extend(consumers.get(name, ()))

    def fail(self, why: str) -> DeepRacerError:
        return DeepRacerError(f"{self.where}: {why}")

    def node(self, name: str):
        name = name.lstrip("^").split(":")[0]
        if name not in self.nodes:
            raise self.fail(f"node {name!r} is referenced but missing (a truncated graph?)")
        return self.nodes[name]

    def by_suffix(self, suffix: str, what: str):
        found = [n for name, n in self.nodes.items() if name == suffix or name.endswith("/" + suffix)]
        if len(found) != 1:
            return None if not found else self._two(found, what)
        return found[0]

    def _two(self, found, what):
        raise self.fail(f"{len(found)} {what} nodes ({', '.join(n.name for n in found[:3])}): which one?")

    def constant(self, name: str) -> np.ndarray:
        """A constant input (through Identity and constant arithmetic, e.g. the rescaler's 1 - s)."""
        node = self.node(name)
        if node.op == "Const":
            try:
                return tensor_value(node.attr["value"].tensor)
            except ValueError as exc:
                raise self.fail(f"node {node.name}: unsupported {exc}") from None
        if node.op == "Identity":
            return self.constant(node.input[0])
        if node.op in ("Sub", "Mul", "Add", "AddV2", "RealDiv"):
            a, b = (self.constant(i) for i in node.input[:2])
            return {"Sub": np.subtract, "Mul": np.multiply, "Add": np.add, "AddV2": np.add,
                    "RealDiv": np.divide}[node.op](a, b)
        raise self.fail(f"node {node.name} ({node.op}) should be a constant")

    def data_inputs(self, node) -> list[str]:
        return [i for i in node.input if not i.startswith("^") and i.split(":")[0] in self.live]

    def path(self, node, stops: set[str]) -> tuple[list[Layer], object, bool]:
        """The layers from a placeholder or the merger up to `node`, in order: (layers, the node the walk back
        stopped at, whether `node` is a softmax)."""
        layers: list[Layer] = []
        softmax, activation, start = False, None, node
        self.divisor = None
        while node.name not in stops and node.op not in CONCATS:
            op, data = node.op, self.data_inputs(node)
            if op == "Reshape" and data[:1] == [node.input[0]]:
                data = data[:1]  # its shape input reads the input's batch size (Shape, StridedSlice, Pack)
            if not data:
                raise self.fail(f"node {node.name} ({op}) does not lead to the input")
            if op == "Softmax" and node is start:
                softmax = True
            elif op in ACTIVATIONS:
                activation = ACTIVATIONS[op]
            elif op in ("Conv2D", "MatMul"):
                layers.append(self._layer(node, activation))
                activation = None
            elif op == "BiasAdd":
                if self.node(data[0]).op not in ("Conv2D", "MatMul"):
                    raise self.fail(f"node {node.name}: BiasAdd after {self.node(data[0]).op}, not a layer")
                self.bias = self.constant(node.input[1])
            elif op in BATCH_NORMS:
                self._batch_norm(node)
            elif op == "RealDiv":
                self.divisor = (node.name, self.constant(node.input[1]))
            elif op == "Sub" and data == [node.input[0]]:
                if not np.allclose(self.constant(node.input[1]), 0.0):
                    raise self.fail(f"node {node.name}: the input is shifted by {self.constant(node.input[1])}, not 0")
            elif op in ("Add", "AddV2") and len(data) == 2:  # the gradient rescaler: s * x + (1 - s) * stop_gradient(x)
                data = [self._rescaler(node, data)]
            elif op not in PASS_THROUGH:
                raise self.fail(f"node {node.name}: op {op} is not one DeepRacer's networks use")
            if len(data) != 1:
                raise self.fail(f"node {node.name} ({op}) joins {len(data)} paths from the inputs, not as "
                                f"DeepRacer's merger does")
            node = self.node(data[0])
        layers.reverse()
        return layers, node, softmax

    def branches(self, merger, inputs: dict[str, str]) -> list[tuple[str, list[Layer]]]:
        """Each of the merger's inputs walked back to its placeholder: (placeholder name, layers), in order."""
        if merger.op == "ConcatV2":
            parts, axis = list(merger.input[:-1]), merger.input[-1]
        else:  # Concat: the axis first
            parts, axis = list(merger.input[1:]), merger.input[0]
        if int(np.asarray(self.constant(axis)).reshape(-1)[0]) not in (-1, 1):
            raise self.fail(f"node {merger.name}: joins the sensors along axis {self.constant(axis)}, not the last")
        found = []
        for part in parts:
            if part.split(":")[0] not in self.live:
                raise self.fail(f"node {merger.name} joins a path from an input that model_metadata.json's "
                                f"sensor does not list ({', '.join(self.placeholders_of(part)) or 'no input'})")
            layers, end, _ = self.path(self.node(part), set(inputs))
            if end.name not in inputs:
                raise self.fail(f"node {end.name}: the sensors are joined more than once, not as DeepRacer joins "
                                f"them")
            self.check_scale(end.name, inputs[end.name])
            found.append((end.name, layers))
        if len({name for name, _ in found}) != len(found) or set(inputs) - {name for name, _ in found}:
            unread = sorted(set(inputs) - {name for name, _ in found})
            raise self.fail(f"node {merger.name} does not join each input once (the policy does not read "
                            f"{', '.join(unread) or 'one of them'})")
        return found

    def check_scale(self, placeholder: str, sensor: str) -> None:
        """A camera's frames are divided by 255, a LIDAR's values by 1 (rl_coach's image and vector embedders)."""
        expected = 1.0 if sensor in LIDARS else 255.0
        if self.divisor is not None and not np.allclose(self.divisor[1], expected):
            raise self.fail(f"node {self.divisor[0]}: the {sensor} input is divided by {self.divisor[1]}, not "
                            f"{expected:g}")

    def placeholders_of(self, name: str) -> list[str]:
        seen, todo, found = set(), [name.split(":")[0]], []
        while todo:
            node = self.nodes.get(todo.pop().lstrip("^").split(":")[0])
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            if node.op == "Placeholder":
                found.append(node.name)
            todo.extend(node.input)
        return sorted(found)

    def _layer(self, node, activation: str | None) -> Layer:
        weight = self.constant(node.input[1])
        bias, scale, self.bias = self.bias, self.scale, None
        if bias is None:
            raise self.fail(f"node {node.name} ({node.op}) has no bias after it")
        if node.op == "MatMul":
            if node.attr["transpose_a"].b or node.attr["transpose_b"].b:
                raise self.fail(f"node {node.name}: a transposed MatMul")
            return Layer("dense", weight, bias, activation=activation)
        strides = list(node.attr["strides"].list.i)
        if node.attr["padding"].s != b"VALID" or node.attr["data_format"].s not in (b"", b"NHWC") \
                or len(strides) != 4 or strides[1] != strides[2]:
            raise self.fail(f"node {node.name}: a convolution other than DeepRacer's (VALID, NHWC, square strides)")
        if scale is not None:  # a batch norm after it, folded in: y = (conv + b) * scale + shift
            weight, bias = weight * scale[0], bias * scale[0] + scale[1]
            self.scale = None
        return Layer("conv", weight, bias, stride=int(strides[1]), activation=activation)

    def _batch_norm(self, node) -> None:
        if node.attr["is_training"].b:
            raise self.fail(f"node {node.name}: a batch norm frozen in training mode")
        gamma, beta, mean, var = (self.constant(i) for i in node.input[1:5])
        scale = gamma / np.sqrt(var + node.attr["epsilon"].f)
        self.scale = (scale, beta - mean * scale)
        # the conv's own bias comes next on the walk back (BiasAdd), then the conv takes both
        if self.node(node.input[0]).op == "Conv2D":  # no BiasAdd: a zero bias
            self.bias = np.zeros_like(beta)

    def _rescaler(self, node, data: list[str]) -> str:
        """Both halves s * x and (1 - s) * x must reach the same x, with s + (1 - s) = 1: returns x."""
        ends, weights = [], []
        for name in data:
            half = self.node(name)
            if half.op != "Mul":
                raise self.fail(f"node {node.name}: an Add of two paths from the input that is not a gradient "
                                f"rescaler")
            (x,) = self.data_inputs(half)
            (s,) = [i for i in half.input if i != x]
            weights.append(float(np.asarray(self.constant(s)).reshape(-1)[0]))
            while self.node(x).op in PASS_THROUGH:
                x = self.node(x).input[0]
            ends.append(self.node(x).name)
        if ends[0] != ends[1] or abs(sum(weights) - 1.0) > 1e-6:
            raise self.fail(f"node {node.name}: an Add of two paths from the input that is not a gradient rescaler")
        return ends[0]


def read_policy(graph: graph_pb2.GraphDef, algorithm: str, sensors, where: str) -> Policy:
    """The policy network of a DeepRacer frozen graph, for a model trained with `algorithm` on `sensors` (DeepRacer's
    names, model_metadata.json's `sensor` list; one name for a camera alone)."""
    sensors = (sensors,) if isinstance(sensors, str) else tuple(sensors)
    walk = _Walk(graph, where)
    prefix = SAC_PREFIX if algorithm == "sac" else PPO_PREFIX
    inputs: dict[str, str] = {}  # placeholder name -> sensor
    for sensor in sensors:
        input_suffix = f"network_0/{sensor}/{sensor}"
        placeholder = walk.by_suffix(input_suffix, "input")
        if placeholder is None or placeholder.op != "Placeholder":
            raise walk.fail(f"no input node {prefix}/{input_suffix} for {sensor}, which model_metadata.json's sensor "
                            f"lists (is its sensor or training_algorithm right for this graph?)")
        inputs[placeholder.name] = sensor
    output_suffix = SAC_OUTPUT if algorithm == "sac" else PPO_OUTPUT
    output = walk.by_suffix(output_suffix, "output")
    if output is None:
        raise walk.fail(f"no output node {prefix}/{output_suffix}")
    walk.reading(list(inputs))
    layers, end, softmax = walk.path(output, set(inputs))
    if end.name in inputs:
        if len(inputs) > 1:
            unread = sorted(set(inputs) - {end.name})
            raise walk.fail(f"the policy reads {end.name} alone, not {', '.join(unread)}, which model_metadata.json's "
                            f"sensor lists")
        walk.check_scale(end.name, inputs[end.name])
        found = [(end.name, [])]
    else:
        found = walk.branches(end, inputs)
    if not layers or layers[-1].kind != "dense" or layers[-1].activation is not None:
        raise walk.fail("the graph's policy does not end in a dense layer")
    branches = [Branch(inputs[name], name, tuple(d.size for d in walk.node(name).attr["shape"].shape.dim[1:]),
                       branch_layers) for name, branch_layers in found]
    return Policy(branches, layers, softmax)
