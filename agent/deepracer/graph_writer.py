"""A DeepRacer frozen graph (GraphDef) written from a list of layers, without TensorFlow.

The inverse of graph.py's reader: the layers (graph.Layer, weights in TensorFlow's layouts: conv HWIO, dense
[in, out]) become the policy path DeepRacer's simulator freezes (../shared/deepracer-models/README.md, "The
frozen graph"), with DeepRacer's input and output names, so DeepRacer's car, its OpenVINO model optimizer and
TFLite's `from_frozen_graph` find them:
- `<prefix>/network_0/<SENSOR>/<SENSOR>`: Placeholder, float32 [-1, 120, 160, 1], 0-255 grey frames;
- `truediv` (RealDiv by 255), `sub` (Sub 0);
- each convolution: Conv2D (VALID, NHWC), BiasAdd, then Relu or Tanh;
- the flatten: Reshape to [-1, H*W*C] (TensorFlow's NHWC order, what racekit's DeepRacer networks flatten by);
- each dense layer: MatMul, BiasAdd, then Relu or Tanh; the head's: MatMul, BiasAdd;
- `<prefix>/network_1/ppo_head_0/policy` (PPO): Softmax of the head (discrete), or an Identity of it (continuous:
  the Gaussian's mean); SAC: `<prefix>/network_0/sac_policy_head_0/policy`, an Identity of the mean before tanh.
Weights are Const nodes, as in any frozen graph. The gradient rescaler DeepRacer's graphs carry between the
middleware and the head is the identity when run, so it is left out. Inner names follow DeepRacer's
(`Conv2d_0/kernel`, `middleware_fc_embedder/Dense_0/...`), though nothing keys on them.

A car with a LIDAR (or a stereo pair: `STEREO_CAMERAS`, [-1, 120, 160, 2]) has one placeholder per sensor, each
with its embedder (rl_coach's vector embedder for a LIDAR: `truediv` by 1, `sub` 0, dense 256, 256, a flatten),
then `merger`, a ConcatV2 of the embeddings in the sensors' names' sorted order (rl_coach's general network),
then the middleware.
"""
from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.compat.proto.types_pb2 import DT_FLOAT, DT_INT32

from racekit.agent.deepracer.graph import LIDARS, PPO_OUTPUT, PPO_PREFIX, SAC_OUTPUT, SAC_PREFIX, Branch, Layer

ACTIVATION_OPS = {"relu": "Relu", "tanh": "Tanh"}


def input_name(algorithm: str, sensor: str = "FRONT_FACING_CAMERA") -> str:
    return f"{SAC_PREFIX if algorithm == 'sac' else PPO_PREFIX}/network_0/{sensor}/{sensor}"


def output_name(algorithm: str) -> str:
    return f"{SAC_PREFIX}/{SAC_OUTPUT}" if algorithm == "sac" else f"{PPO_PREFIX}/{PPO_OUTPUT}"


def _tensor(value: np.ndarray) -> tensor_pb2.TensorProto:
    value = np.asarray(value)
    dtype = {np.dtype(np.float32): DT_FLOAT, np.dtype(np.int32): DT_INT32}[value.dtype]
    tensor = tensor_pb2.TensorProto(dtype=dtype)
    tensor.tensor_shape.CopyFrom(_shape(value.shape))
    if value.ndim == 0:
        (tensor.float_val if dtype == DT_FLOAT else tensor.int_val).append(value.item())
    else:
        tensor.tensor_content = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    return tensor


def _shape(dims) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in dims])


class _Writer:
    def __init__(self):
        self.graph = graph_pb2.GraphDef()

    def node(self, name: str, op: str, inputs=(), **attrs) -> str:
        node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
        for key, value in attrs.items():
            node.attr[key].CopyFrom(value)
        self.graph.node.append(node)
        return name

    def const(self, name: str, value) -> str:
        value = np.asarray(value)
        return self.node(name, "Const", dtype=_type(DT_FLOAT if value.dtype == np.float32 else DT_INT32),
                         value=attr_value_pb2.AttrValue(tensor=_tensor(value)))

    def op(self, name: str, op: str, *inputs: str, **attrs) -> str:
        return self.node(name, op, inputs, T=_type(DT_FLOAT), **attrs)


def _type(dtype) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=dtype)


def _bool(value: bool) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(b=value)


def _string(value: bytes) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(s=value)


def _ints(values) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=list(values)))


def write_graph(branches: list[Branch], layers: list[Layer], algorithm: str, softmax: bool) -> bytes:
    """The frozen GraphDef's bytes of a DeepRacer policy: each sensor's branch (a camera's convolutions and its
    embedder's dense layers; a LIDAR's dense layers), joined in DeepRacer's order when there are two, then
    `layers`, the dense layers after the join, the last one the head (activation None). `algorithm` is
    "clipped_ppo" or "sac" (the names); `softmax` ends the head in a Softmax (discrete PPO)."""
    if not layers or any(layer.kind != "dense" for layer in layers) or layers[-1].activation is not None:
        raise ValueError("a DeepRacer policy ends in dense layers, the last one the head")
    sac = algorithm == "sac"
    prefix = SAC_PREFIX if sac else PPO_PREFIX
    body = f"{prefix}/{'network_0' if sac else 'network_1'}"
    head = f"{body}/{'sac_policy_head_0' if sac else 'ppo_head_0'}"
    w = _Writer()
    embeddings = [_embedder(w, branch, algorithm, body) for branch in sorted(branches, key=lambda b: b.sensor)]
    if len(embeddings) == 1:
        x = embeddings[0]
    else:  # rl_coach's merger: tf.concat(embeddings, axis=-1, name="merger")
        x = w.node(f"{body}/merger", "ConcatV2", (*embeddings, w.const(f"{body}/merger/axis", np.int32(-1))),
                   N=attr_value_pb2.AttrValue(i=len(embeddings)), T=_type(DT_FLOAT), Tidx=_type(DT_INT32))
    hidden = layers[:-1]
    for i, layer in enumerate(hidden):
        if sac and i == len(hidden) - 1:  # SAC's policy head has a hidden layer of its own
            where, number = head, 0
        else:
            where, number = f"{body}/middleware_fc_embedder", 2 * i
        x = _dense(w, x, layer, where, number)
    last, scope = layers[-1], f"{head}/policy_fc"
    x = w.op(f"{scope}/MatMul", "MatMul", x, w.const(f"{scope}/kernel", last.weight.astype(np.float32)),
             transpose_a=_bool(False), transpose_b=_bool(False))
    x = w.op(f"{scope}/BiasAdd", "BiasAdd", x, w.const(f"{scope}/bias", last.bias.astype(np.float32)),
             data_format=_string(b"NHWC"))
    w.op(output_name(algorithm), "Softmax" if softmax else "Identity", x)
    return w.graph.SerializeToString()


def _embedder(w: _Writer, branch: Branch, algorithm: str, body: str) -> str:
    """One sensor's placeholder and embedder; returns the name of its output, flattened."""
    scope, lidar = f"{body}/{branch.sensor}", branch.sensor in LIDARS
    convs = [layer for layer in branch.layers if layer.kind == "conv"]
    dense = [layer for layer in branch.layers if layer.kind == "dense"]
    if branch.layers != convs + dense or (lidar and convs) or (not lidar and not convs):
        what = "dense layers" if lidar else "convolutions, then dense layers"
        raise ValueError(f"a DeepRacer {branch.sensor} embedder is {what}")
    x = w.node(input_name(algorithm, branch.sensor), "Placeholder", dtype=_type(DT_FLOAT),
               shape=attr_value_pb2.AttrValue(shape=_shape((-1, *branch.input_shape))))
    # rl_coach's input rescaling: an image's 0-255 by 255, a vector's by 1
    x = w.op(f"{scope}/truediv", "RealDiv", x, w.const(f"{scope}/truediv/y", np.float32(1.0 if lidar else 255.0)))
    x = w.op(f"{scope}/sub", "Sub", x, w.const(f"{scope}/sub/y", np.float32(0.0)))
    index = 0  # DeepRacer numbers a layer and its activation one after the other: Conv2d_0, ..._1_activation
    for layer in convs:
        name = f"{scope}/Conv2d_{index}"
        x = w.op(f"{name}/Conv2D", "Conv2D", x, w.const(f"{name}/kernel", layer.weight.astype(np.float32)),
                 strides=_ints((1, layer.stride, layer.stride, 1)), padding=_string(b"VALID"),
                 data_format=_string(b"NHWC"), dilations=_ints((1, 1, 1, 1)), use_cudnn_on_gpu=_bool(True))
        x = w.op(f"{name}/BiasAdd", "BiasAdd", x, w.const(f"{name}/bias", layer.bias.astype(np.float32)),
                 data_format=_string(b"NHWC"))
        x = w.op(f"{scope}/BatchnormActivationDropout_{index + 1}_activation", ACTIVATION_OPS[layer.activation], x)
        index += 2
    if convs:
        flat = int(np.prod(_conv_output(branch.input_shape, convs)))
        if dense and dense[0].weight.shape[0] != flat:
            raise ValueError(f"the first dense layer takes {dense[0].weight.shape[0]} values, the convolutions give "
                             f"{flat}")
        x = _flatten(w, x, scope, flat)
    for layer in dense:
        x = _dense(w, x, layer, scope, index)
        index += 2
    if lidar:
        x = _flatten(w, x, scope, int(dense[-1].weight.shape[1]) if dense else int(branch.input_shape[0]))
    return x


def _flatten(w: _Writer, x: str, scope: str, size: int) -> str:
    """Reshape to [-1, size] (TensorFlow's NHWC order, what racekit's DeepRacer networks flatten by)."""
    return w.node(f"{scope}/Flatten/flatten/Reshape", "Reshape",
                  (x, w.const(f"{scope}/Flatten/flatten/Reshape/shape", np.array([-1, size], np.int32))),
                  T=_type(DT_FLOAT), Tshape=_type(DT_INT32))


def _dense(w: _Writer, x: str, layer: Layer, where: str, number: int) -> str:
    """MatMul, BiasAdd and the layer's activation, under DeepRacer's names."""
    scope = f"{where}/Dense_{number}"
    x = w.op(f"{scope}/MatMul", "MatMul", x, w.const(f"{scope}/kernel", layer.weight.astype(np.float32)),
             transpose_a=_bool(False), transpose_b=_bool(False))
    x = w.op(f"{scope}/BiasAdd", "BiasAdd", x, w.const(f"{scope}/bias", layer.bias.astype(np.float32)),
             data_format=_string(b"NHWC"))
    return w.op(f"{where}/BatchnormActivationDropout_{number + 1}_activation", ACTIVATION_OPS[layer.activation], x)


def _conv_output(shape: tuple[int, ...], convs: list[Layer]) -> tuple[int, int, int]:
    height, width, channels = shape
    for layer in convs:
        kernel_h, kernel_w, _, channels = layer.weight.shape
        height, width = (height - kernel_h) // layer.stride + 1, (width - kernel_w) // layer.stride + 1
    return height, width, channels
