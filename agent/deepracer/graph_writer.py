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
"""
from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.compat.proto.types_pb2 import DT_FLOAT, DT_INT32

from racekit.agent.deepracer.graph import PPO_OUTPUT, PPO_PREFIX, SAC_OUTPUT, SAC_PREFIX, Layer

ACTIVATION_OPS = {"relu": "Relu", "tanh": "Tanh"}
CAMERA_SHAPE = (120, 160, 1)  # (height, width, channels): what DeepRacer's cars feed


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


def write_graph(layers: list[Layer], algorithm: str, softmax: bool, embedder_dense: int = 0,
                sensor: str = "FRONT_FACING_CAMERA", input_shape: tuple[int, int, int] = CAMERA_SHAPE) -> bytes:
    """The frozen GraphDef's bytes of a DeepRacer camera policy: convolutions, then dense layers, the last one the
    head (activation None). `algorithm` is "clipped_ppo" or "sac" (the names); `softmax` ends the head in a
    Softmax (discrete PPO); `embedder_dense` dense layers after the flatten are named as the camera embedder's
    (DeepRacer's standard preset has 1, the deep one 2), the rest as the middleware's."""
    convs = [layer for layer in layers if layer.kind == "conv"]
    dense = [layer for layer in layers if layer.kind == "dense"]
    if layers != convs + dense or not convs or not dense or dense[-1].activation is not None:
        raise ValueError("a DeepRacer camera policy is convolutions, then dense layers ending in the head")
    sac = algorithm == "sac"
    prefix = SAC_PREFIX if sac else PPO_PREFIX
    body = f"{prefix}/{'network_0' if sac else 'network_1'}"
    head = f"{body}/{'sac_policy_head_0' if sac else 'ppo_head_0'}"
    camera = f"{body}/{sensor}"
    w = _Writer()
    x = w.node(input_name(algorithm, sensor), "Placeholder", dtype=_type(DT_FLOAT),
               shape=attr_value_pb2.AttrValue(shape=_shape((-1, *input_shape))))
    x = w.op(f"{camera}/truediv", "RealDiv", x, w.const(f"{camera}/truediv/y", np.float32(255.0)))
    x = w.op(f"{camera}/sub", "Sub", x, w.const(f"{camera}/sub/y", np.float32(0.0)))
    index = 0  # DeepRacer numbers a layer and its activation one after the other: Conv2d_0, ..._1_activation
    for layer in convs:
        scope = f"{camera}/Conv2d_{index}"
        x = w.op(f"{scope}/Conv2D", "Conv2D", x, w.const(f"{scope}/kernel", layer.weight.astype(np.float32)),
                 strides=_ints((1, layer.stride, layer.stride, 1)), padding=_string(b"VALID"),
                 data_format=_string(b"NHWC"), dilations=_ints((1, 1, 1, 1)), use_cudnn_on_gpu=_bool(True))
        x = w.op(f"{scope}/BiasAdd", "BiasAdd", x, w.const(f"{scope}/bias", layer.bias.astype(np.float32)),
                 data_format=_string(b"NHWC"))
        x = w.op(f"{camera}/BatchnormActivationDropout_{index + 1}_activation", ACTIVATION_OPS[layer.activation], x)
        index += 2
    flat = int(np.prod(_conv_output(input_shape, convs)))
    if dense[0].weight.shape[0] != flat:
        raise ValueError(f"the first dense layer takes {dense[0].weight.shape[0]} values, the convolutions give {flat}")
    x = w.node(f"{camera}/Flatten/flatten/Reshape", "Reshape",
               (x, w.const(f"{camera}/Flatten/flatten/Reshape/shape", np.array([-1, flat], np.int32))),
               T=_type(DT_FLOAT), Tshape=_type(DT_INT32))
    hidden = dense[:-1]
    for i, layer in enumerate(hidden):
        if i < embedder_dense:
            where, number = camera, index + 2 * i
        elif sac and i == len(hidden) - 1:  # SAC's policy head has a hidden layer of its own
            where, number = head, 0
        else:
            where, number = f"{body}/middleware_fc_embedder", 2 * (i - embedder_dense)
        scope = f"{where}/Dense_{number}"
        x = w.op(f"{scope}/MatMul", "MatMul", x, w.const(f"{scope}/kernel", layer.weight.astype(np.float32)),
                 transpose_a=_bool(False), transpose_b=_bool(False))
        x = w.op(f"{scope}/BiasAdd", "BiasAdd", x, w.const(f"{scope}/bias", layer.bias.astype(np.float32)),
                 data_format=_string(b"NHWC"))
        x = w.op(f"{where}/BatchnormActivationDropout_{number + 1}_activation", ACTIVATION_OPS[layer.activation], x)
    last, scope = dense[-1], f"{head}/policy_fc"
    x = w.op(f"{scope}/MatMul", "MatMul", x, w.const(f"{scope}/kernel", last.weight.astype(np.float32)),
             transpose_a=_bool(False), transpose_b=_bool(False))
    x = w.op(f"{scope}/BiasAdd", "BiasAdd", x, w.const(f"{scope}/bias", last.bias.astype(np.float32)),
             data_format=_string(b"NHWC"))
    w.op(output_name(algorithm), "Softmax" if softmax else "Identity", x)
    return w.graph.SerializeToString()


def _conv_output(shape: tuple[int, int, int], convs: list[Layer]) -> tuple[int, int, int]:
    height, width, channels = shape
    for layer in convs:
        kernel_h, kernel_w, _, channels = layer.weight.shape
        height, width = (height - kernel_h) // layer.stride + 1, (width - kernel_w) // layer.stride + 1
    return height, width, channels
