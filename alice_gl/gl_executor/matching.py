"""Pattern matchers that turn runs of ONNX nodes into executor kernels.

Each matcher looks at one anchor node and returns a ``Group`` (the nodes it covers, the values
it reads and writes, and its kernel) or None. The INT8 matchers recognise the chains the
dynamic quantizer writes:

- ``DynamicQuantizeLinear`` whose every consumer is fused below becomes the runtime's
  quantization passes, producing a quantized value (uint8 texture plus params texture).
- ``MatMulInteger -> Cast -> Mul(accumulator, x_scale * w_scale) [-> Add(bias)]
  [-> activation]`` becomes the runtime's tiled dequant-matmul.
- ``DequantizeLinear(x_q) -> Conv(x, DequantizeLinear(w_q)) [-> BatchNormalization]
  [-> activation]`` becomes one integer convolution pass.

FP32 Conv, MatMul and Gemm fuse a following BatchNormalization (Conv only), bias Add and
activation the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alice_gl.executor import PlannedNode
from alice_gl.gl import GLContext, TilingConfig
from alice_gl.gl_executor.graph_view import GraphView
from alice_gl.gl_executor.kernels.activation import EPILOGUE_ACTIVATIONS, Activation
from alice_gl.gl_executor.kernels.base import GLKernel
from alice_gl.gl_executor.kernels.conv import ConvKernel, conv_geometry, fold_batch_norm
from alice_gl.gl_executor.kernels.conv_transpose import (
    ConvTransposeKernel,
    conv_transpose_geometry,
)
from alice_gl.gl_executor.kernels.int8 import Int8MatMulKernel, QuantizeKernel
from alice_gl.gl_executor.kernels.matmul import MatMulKernel, matmul_shape
from alice_gl.gl_executor.values import fits_one_texture, flat_layout

# Activations the runtime's dequant-matmul epilogue implements.
INT8_MATMUL_ACTIVATIONS = frozenset({"Relu", "Clip", "Sigmoid"})


@dataclass
class Group:
    """Nodes covered by one kernel (or by the NumPy executor when ``kernel`` is None).

    ``inputs`` are the run-time values it reads, ``outputs`` the values it writes. For a
    quantize group the output is the ``x_q`` value name, standing for the quantized bundle.
    ``captures`` names extra int32 accumulator outputs kept for inspection.
    """

    kind: str
    nodes: list[PlannedNode]
    inputs: list[str]
    outputs: list[str]
    kernel: GLKernel | None = None
    captures: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The anchor node's name, or its first output when the node has none."""
        node = self.nodes[0]
        return node.name or node.outputs[0]


@dataclass
class MatchContext:
    """Settings the matchers share: GL context, pass family, tiling and the capture flag."""

    ctx: GLContext
    backend: str
    tiling: TilingConfig
    capture_int8: bool


def match_activation(view: GraphView, value: str,
                     allowed: frozenset[str] | None = None
                     ) -> tuple[PlannedNode | None, Activation]:
    """Return the activation node that solely consumes ``value``, if it can be fused."""
    node = view.sole_consumer(value)
    allowed = allowed or frozenset(EPILOGUE_ACTIVATIONS)
    if node is None or node.op_type not in allowed or node.inputs[0] != value:
        return None, Activation()
    if node.op_type == "Clip":
        low = node.attributes.get("min", -np.inf)
        high = node.attributes.get("max", np.inf)
        for index in (1, 2):
            if len(node.inputs) > index and node.inputs[index]:
                bound = view.constant(node.inputs[index])
                if bound is None or bound.size != 1:
                    return None, Activation()
                if index == 1:
                    low = float(bound.reshape(-1)[0])
                else:
                    high = float(bound.reshape(-1)[0])
        return node, Activation("Clip", (float(low), float(high)))
    if node.op_type == "LeakyRelu":
        return node, Activation("LeakyRelu", (float(node.attributes.get("alpha", 0.01)), 0.0))
    return node, Activation(node.op_type)


def _float_matrix_ok(view: GraphView, mc: MatchContext, shape: tuple[int, ...],
                     rows: int, cols: int) -> bool:
    """Return whether a tensor of ``shape`` has the (rows, cols) single-texture matrix layout.

    NOTE: a 4-D activation takes the plane layout, so an INT8 MatMul on a 4-D input fails
    this check and its chain runs on NumPy. A copy pass to the (M, K) layout would fix it.
    """
    if not fits_one_texture(mc.ctx, shape):
        return False
    layout = flat_layout(mc.ctx, shape)
    return (layout.rows, layout.cols) == (rows, cols)


def match_quantize(view: GraphView, mc: MatchContext, node: PlannedNode
                   ) -> list[Group] | None:
    """Match a DynamicQuantizeLinear and every consumer of its outputs, or return None."""
    x_name = node.inputs[0]
    x_q, x_scale, x_zero_point = [*node.outputs, "", "", ""][:3]
    if not view.is_float(x_name) or not fits_one_texture(mc.ctx, view.shape(x_name)):
        return None
    if any(name in view.graph_outputs for name in (x_q, x_scale, x_zero_point) if name):
        return None
    x_layout = flat_layout(mc.ctx, view.shape(x_name))
    groups: list[Group] = []
    covered: set[int] = {id(node)}
    extra_nodes: list[PlannedNode] = []
    for consumer in view.consumers(x_q):
        if id(consumer) in covered:
            continue
        if consumer.op_type == "MatMulInteger":
            group = _match_int8_matmul(view, mc, consumer, x_q, x_scale, x_zero_point)
            if group is None:
                return None
            groups.append(group)
        elif consumer.op_type == "DequantizeLinear":
            conv_groups = _match_int8_convs(view, mc, consumer, x_q, x_scale, x_zero_point)
            if conv_groups is None:
                return None
            groups.extend(conv_groups)
            extra_nodes.append(consumer)
            covered.add(id(consumer))
        else:
            return None
        covered.update(id(member) for member in groups[-1].nodes)
    for side_value in (x_scale, x_zero_point):
        for reader in view.consumers(side_value):
            if id(reader) not in covered and not any(
                    reader is member for group in groups for member in group.nodes):
                return None
    quantize = QuantizeKernel(mc.ctx, node.name or x_q, (x_layout.rows, x_layout.cols))
    head = Group("quantize", [node, *extra_nodes], [x_name], [x_q], quantize)
    return [head, *groups]


def _match_int8_matmul(view: GraphView, mc: MatchContext, node: PlannedNode, x_q: str,
                       x_scale: str, x_zero_point: str) -> Group | None:
    inputs = list(node.inputs) + [""] * (4 - len(node.inputs))
    if inputs[0] != x_q or inputs[2] != x_zero_point:
        return None
    w_q = view.constant(inputs[1])
    if w_q is None or w_q.dtype != np.int8 or w_q.ndim != 2:
        return None
    if inputs[3] and not _all_zero(view.constant(inputs[3])):
        return None
    accumulator = node.outputs[0]
    cast = view.sole_consumer(accumulator)
    if cast is None or cast.op_type != "Cast" or cast.attributes.get("to") != 1:
        return None
    mul = view.sole_consumer(cast.outputs[0])
    if mul is None or mul.op_type != "Mul":
        return None
    scale_value = next((name for name in mul.inputs if name != cast.outputs[0]), None)
    scale_mul = view.producer(scale_value) if scale_value else None
    if scale_mul is None or scale_mul.op_type != "Mul" or x_scale not in scale_mul.inputs \
            or len(view.consumers(scale_value)) != 1:
        return None
    w_scale_name = next((name for name in scale_mul.inputs if name != x_scale), x_scale)
    w_scale = view.constant(w_scale_name)
    k, n = w_q.shape
    if w_scale is None or w_scale.size not in (1, n):
        return None
    x_shape = view.shape(node.inputs[0])
    out_shape = view.shape(mul.outputs[0])
    m = int(np.prod(x_shape[:-1])) if len(x_shape) > 1 else 1
    if not (_float_matrix_ok(view, mc, x_shape, m, k)
            and _float_matrix_ok(view, mc, out_shape, m, n)):
        return None

    nodes = [node, cast, scale_mul, mul]
    output = mul.outputs[0]
    bias = None
    add = view.sole_consumer(output)
    if add is not None and add.op_type == "Add":
        other = next((name for name in add.inputs if name != output), None)
        constant = view.constant(other) if other else None
        if constant is not None and constant.size == n and view.shape(add.outputs[0]) == \
                out_shape:
            bias = constant.reshape(n)
            nodes.append(add)
            output = add.outputs[0]
    act_node, activation = match_activation(view, output, INT8_MATMUL_ACTIVATIONS)
    if act_node is not None:
        nodes.append(act_node)
        output = act_node.outputs[0]
    name = node.name or accumulator
    kernel = Int8MatMulKernel(mc.ctx, name, m, w_q, w_scale, bias, activation, mc.backend,
                              mc.tiling, capture_accumulator=mc.capture_int8)
    captures = [f"{name}:accumulator"] if mc.capture_int8 else []
    return Group("int8_matmul", nodes, [x_q], [output], kernel, captures)


def _match_int8_convs(view: GraphView, mc: MatchContext, dequantize: PlannedNode, x_q: str,
                      x_scale: str, x_zero_point: str) -> list[Group] | None:
    inputs = list(dequantize.inputs) + [""] * (3 - len(dequantize.inputs))
    if inputs[0] != x_q or inputs[1] != x_scale or inputs[2] != x_zero_point:
        return None
    x_deq = dequantize.outputs[0]
    if x_deq in view.graph_outputs or not view.consumers(x_deq):
        return None
    groups = []
    for conv in view.consumers(x_deq):
        group = _match_int8_conv(view, mc, conv, x_deq, x_q)
        if group is None:
            return None
        groups.append(group)
    return groups


def _match_int8_conv(view: GraphView, mc: MatchContext, conv: PlannedNode, x_deq: str,
                     x_q: str) -> Group | None:
    if conv.op_type not in ("Conv", "ConvTranspose") or conv.inputs[0] != x_deq:
        return None
    w_dequantize = view.producer(conv.inputs[1])
    if w_dequantize is None or w_dequantize.op_type != "DequantizeLinear":
        return None
    w_inputs = list(w_dequantize.inputs) + [""] * (3 - len(w_dequantize.inputs))
    w_q, w_scale = view.constant(w_inputs[0]), view.constant(w_inputs[1])
    if w_q is None or w_scale is None or w_q.dtype != np.int8:
        return None
    if w_inputs[2] and not _all_zero(view.constant(w_inputs[2])):
        return None
    bias = view.constant(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
    if len(conv.inputs) > 2 and conv.inputs[2] and bias is None:
        return None
    axis = w_dequantize.attributes.get("axis", 1)
    if conv.op_type == "ConvTranspose":
        # Weight axis 1 indexes the output channels of one group.
        group = int(conv.attributes.get("group", 1))
        per_group = w_q.shape[1]
        if w_scale.size != 1 and not (w_scale.size == per_group and axis in (1, 1 - w_q.ndim)):
            return None
        scale = np.tile(np.broadcast_to(w_scale.reshape(-1), (per_group,)), group)
        return _conv_transpose_group(view, mc, conv, x_q, w_q, bias, scale)
    channels = w_q.shape[0]
    if w_scale.size != 1 and not (w_scale.size == channels and axis in (0, -w_q.ndim)):
        return None
    w_scale = np.broadcast_to(w_scale.astype(np.float64).reshape(-1), (channels,))
    return _conv_group(view, mc, conv, x_q, w_q, bias, w_scale, "int8_conv")


def match_conv_transpose(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match an FP32 ConvTranspose with constant weights (and bias) plus an activation."""
    weights = view.constant(node.inputs[1])
    if not view.is_float(node.inputs[0]) or weights is None or weights.dtype != np.float32:
        return None
    bias = view.constant(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if len(node.inputs) > 2 and node.inputs[2] and bias is None:
        return None
    return _conv_transpose_group(view, mc, node, node.inputs[0], weights, bias, None)


def _conv_transpose_group(view: GraphView, mc: MatchContext, node: PlannedNode, x: str,
                          weights: np.ndarray, bias: np.ndarray | None,
                          w_scale: np.ndarray | None) -> Group | None:
    output = node.outputs[0]
    geometry = conv_transpose_geometry(view.shape(node.inputs[0]), weights.shape,
                                       view.shape(output), node.attributes)
    if geometry is None or not fits_one_texture(mc.ctx, view.shape(output)):
        return None
    nodes = [node]
    act_node, activation = match_activation(view, output)
    if act_node is not None:
        nodes.append(act_node)
        output = act_node.outputs[0]
    kernel = ConvTransposeKernel(mc.ctx, node.name or node.outputs[0], geometry, weights, bias,
                                 activation, w_scale)
    kind = "conv_transpose" if w_scale is None else "int8_conv_transpose"
    return Group(kind, nodes, [x], [output], kernel)


def match_conv(view: GraphView, mc: MatchContext, conv: PlannedNode) -> Group | None:
    """Match an FP32 Conv with constant weights (and bias) plus what it can fuse."""
    x = conv.inputs[0]
    weights = view.constant(conv.inputs[1])
    if not view.is_float(x) or weights is None or weights.dtype != np.float32:
        return None
    bias = view.constant(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
    if len(conv.inputs) > 2 and conv.inputs[2] and bias is None:
        return None
    return _conv_group(view, mc, conv, x, weights, bias, None, "conv")


def _conv_group(view: GraphView, mc: MatchContext, conv: PlannedNode, x: str,
                weights: np.ndarray, bias: np.ndarray | None, w_scale: np.ndarray | None,
                kind: str) -> Group | None:
    x_shape = view.shape(conv.inputs[0])
    output = conv.outputs[0]
    geometry = conv_geometry(x_shape, weights.shape, view.shape(output), conv.attributes)
    if geometry is None or not fits_one_texture(mc.ctx, view.shape(output)):
        return None
    nodes = [conv]
    channels = weights.shape[0]
    bias64 = None if bias is None else bias.astype(np.float64)
    batch_norm = view.sole_consumer(output)
    if batch_norm is not None and batch_norm.op_type == "BatchNormalization" \
            and batch_norm.inputs[0] == output and len(view.used_outputs(batch_norm)) == 1 \
            and not batch_norm.attributes.get("training_mode", 0):
        params = [view.constant(name) for name in batch_norm.inputs[1:5]]
        if all(param is not None for param in params):
            factor, bias64 = fold_batch_norm(np.zeros(channels), bias64, batch_norm.attributes,
                                             params)
            if w_scale is None:
                weights = (weights.astype(np.float64)
                           * factor.reshape(-1, *[1] * (weights.ndim - 1))).astype(np.float32)
            else:
                w_scale = w_scale * factor
            nodes.append(batch_norm)
            output = batch_norm.outputs[0]
    act_node, activation = match_activation(view, output)
    if act_node is not None:
        nodes.append(act_node)
        output = act_node.outputs[0]
    name = conv.name or conv.outputs[0]
    capture = kind == "int8_conv" and mc.capture_int8
    kernel = ConvKernel(mc.ctx, name, geometry, weights,
                        None if bias64 is None else bias64.astype(np.float32), activation,
                        mc.backend, x_shape, view.shape(conv.outputs[0]),
                        w_scale=None if w_scale is None else
                        w_scale.astype(np.float32), capture_accumulator=capture)
    captures = [f"{name}:accumulator"] if capture else []
    return Group(kind, nodes, [x], [output], kernel, captures)


def match_matmul(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match an FP32 MatMul or Gemm (constant C only) plus a bias Add and activation."""
    a_name, b_name = node.inputs[0], node.inputs[1]
    a_const, b_const = view.constant(a_name), view.constant(b_name)
    for name, const in ((a_name, a_const), (b_name, b_const)):
        if const is None and not view.is_float(name):
            return None
        if const is not None and const.dtype != np.float32:
            return None
    attrs = node.attributes
    is_gemm = node.op_type == "Gemm"
    shape = matmul_shape(view.shape(a_name), view.shape(b_name),
                         bool(attrs.get("transA", 0)) if is_gemm else False,
                         bool(attrs.get("transB", 0)) if is_gemm else False)
    output = node.outputs[0]
    if shape is None or not fits_one_texture(mc.ctx, view.shape(output)):
        return None
    bias = None
    if is_gemm and len(node.inputs) > 2 and node.inputs[2]:
        c = view.constant(node.inputs[2])
        if c is None:
            return None
        bias = float(attrs.get("beta", 1.0)) * c.astype(np.float32)
    nodes = [node]
    add = view.sole_consumer(output)
    if add is not None and add.op_type == "Add" and shape.batch == 1 \
            and view.shape(add.outputs[0]) == view.shape(output):
        other = next((name for name in add.inputs if name != output), None)
        constant = view.constant(other) if other else None
        if constant is not None and _broadcasts_to(constant.shape, (shape.m, shape.n)):
            bias = constant.astype(np.float32) if bias is None else bias + constant
            nodes.append(add)
            output = add.outputs[0]
    if bias is not None and not _broadcasts_to(bias.shape, (shape.m, shape.n)):
        return None
    act_node, activation = match_activation(view, output)
    if act_node is not None:
        nodes.append(act_node)
        output = act_node.outputs[0]
    alpha = float(attrs.get("alpha", 1.0)) if is_gemm else 1.0
    kernel = MatMulKernel(mc.ctx, node.name or node.outputs[0], shape, a_const, b_const, alpha,
                          bias, activation, mc.backend)
    inputs = [name for name, const in ((a_name, a_const), (b_name, b_const)) if const is None]
    return Group("matmul", nodes, inputs, [output], kernel)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, int]) -> bool:
    try:
        np.broadcast_shapes(shape, target)
    except ValueError:
        return False
    return np.broadcast_shapes(shape, target) == target


def _all_zero(value: np.ndarray | None) -> bool:
    return value is not None and not np.any(value)
