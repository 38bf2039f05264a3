"""Matchers for the single-node GL ops and for fused elementwise chains.

Companion of ``matching``; these cover pooling, Softmax, LayerNormalization, index-map data
movement, reshapes, and groups of elementwise nodes.
"""

from __future__ import annotations

import numpy as np

from alice_gl.errors import AliceGLError
from alice_gl.executor import PlannedNode
from alice_gl.executor.plan import call_kernel
from alice_gl.gl_executor.graph_view import GraphView
from alice_gl.gl_executor.kernels.elementwise import (
    ELEMENTWISE_OPS,
    MAX_RANK,
    ElementwiseKernel,
    ExpressionBuilder,
)
from alice_gl.gl_executor.kernels.gather import (
    ConcatKernel,
    GatherMapKernel,
    source_index_input,
)
from alice_gl.gl_executor.kernels.normalization import LayerNormKernel, SoftmaxKernel
from alice_gl.gl_executor.kernels.pool import POOL_MODES, PoolKernel, pool_geometry
from alice_gl.gl_executor.matching import Group, MatchContext
from alice_gl.gl_executor.values import fits_one_texture, flat_layout

# Ops whose first output is a reshaped view of input 0 (Cast and Dropout only between float32
# tensors, in inference mode): no data moves unless the texture layout changes.
RESHAPE_OP_TYPES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                              "Dropout", "Cast"})
# Ops whose every output element copies one input element, chosen by static shapes and
# constant inputs: they run as an index-map gather, except Concat, which has its own kernel.
# Source indices are stored as int32.
MAX_MAP_INDEX = 2**31 - 1
GATHER_OP_TYPES = frozenset({"Transpose", "Gather", "Slice", "Expand", "Tile", "DepthToSpace",
                             "SpaceToDepth", "Concat", "Resize", "Upsample"})


def _gl_values_ok(view: GraphView, mc: MatchContext, node: PlannedNode,
                  data_inputs: list[str]) -> bool:
    """True when the data inputs and used outputs are float32 and fit one texture."""
    names = [*data_inputs, *view.used_outputs(node)]
    return all(view.is_float(name) and fits_one_texture(mc.ctx, view.shape(name))
               and len(view.shape(name)) <= MAX_RANK for name in names)


def match_reshape(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match a reshape; ``alias`` when the texture layout stays, else a copy pass."""
    if node.op_type not in RESHAPE_OP_TYPES or view.used_outputs(node) != [node.outputs[0]]:
        return None
    if node.op_type == "Dropout" and len(node.inputs) > 2 and node.inputs[2]:
        training_mode = view.constant(node.inputs[2])
        if training_mode is None or bool(training_mode):
            return None
    data = node.inputs[0]
    if any(not view.is_constant(name) for name in node.inputs[1:] if name):
        return None
    if not _gl_values_ok(view, mc, node, [data]):
        return None
    output = node.outputs[0]
    out_shape = view.shape(output)
    if flat_layout(mc.ctx, view.shape(data)) == flat_layout(mc.ctx, out_shape):
        return Group("alias", [node], [data], [output])
    kernel = ElementwiseKernel(mc.ctx, node.name or output, "v0", [(out_shape, None)], [],
                               out_shape)
    return Group("copy", [node], [data], [output], kernel)


def match_gather(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match a data-movement op whose non-data inputs are constants (see ``gather``)."""
    if node.op_type not in GATHER_OP_TYPES or len(view.used_outputs(node)) != 1:
        return None
    if node.op_type in ("Resize", "Upsample") and node.attributes.get("mode", "nearest") \
            not in ("nearest", b"nearest"):
        return None
    data = [name for name in node.inputs if name] if node.op_type == "Concat" \
        else [node.inputs[0]]
    others = [name for name in node.inputs[len(data):] if name]
    if any(not view.is_constant(name) for name in others):
        return None
    if any(view.is_constant(name) for name in data) or not _gl_values_ok(view, mc, node, data):
        return None
    shapes = [view.shape(name) for name in data]
    if node.op_type == "Concat":
        kernel = ConcatKernel(mc.ctx, node.name or node.outputs[0], shapes,
                              int(node.attributes["axis"]))
        return Group("concat", [node], data, [node.outputs[0]], kernel)
    if int(np.prod(shapes[0])) >= MAX_MAP_INDEX:
        return None
    inputs = [source_index_input(shapes[0])]
    inputs += [view.constant(name) if name else None for name in node.inputs[1:]]
    try:
        result = call_kernel(node, inputs)[0]
    except AliceGLError:
        return None
    index_map = np.asarray(result)
    if index_map.shape != view.shape(node.outputs[0]) or not np.array_equal(
            index_map, np.round(index_map)):
        return None
    kernel = GatherMapKernel(mc.ctx, node.name or node.outputs[0], index_map.astype(np.int32))
    return Group("gather", [node], data, [node.outputs[0]], kernel)


def match_qdq(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match a per-tensor QuantizeLinear whose only reader is the DequantizeLinear undoing it.

    The static quantizer writes such pairs on activations; on GL they become one elementwise
    pass, ``(clamp(roundEven(x / scale) + zero_point, qmin, qmax) - zero_point) * scale``.
    """
    if node.op_type != "QuantizeLinear" or len(node.inputs) < 3:
        return None
    dequantize = view.sole_consumer(node.outputs[0])
    if dequantize is None or dequantize.op_type != "DequantizeLinear" \
            or list(dequantize.inputs[1:3]) != list(node.inputs[1:3]):
        return None
    scale, zero_point = view.constant(node.inputs[1]), view.constant(node.inputs[2])
    if scale is None or zero_point is None or scale.size != 1 or zero_point.size != 1 \
            or zero_point.dtype not in (np.uint8, np.int8):
        return None
    if not _gl_values_ok(view, mc, dequantize, [node.inputs[0]]):
        return None
    limits = np.iinfo(zero_point.dtype)
    params = [float(scale.reshape(-1)[0]), float(zero_point.reshape(-1)[0]), float(limits.min),
              float(limits.max)]
    expression = "op_qdq(v0, u_params[0], u_params[1], u_params[2], u_params[3])"
    out_shape = view.shape(dequantize.outputs[0])
    kernel = ElementwiseKernel(mc.ctx, node.name or node.outputs[0], expression,
                               [(view.shape(node.inputs[0]), None)], params, out_shape)
    return Group("elementwise", [node, dequantize], [node.inputs[0]], [dequantize.outputs[0]],
                 kernel)


def match_pool(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match MaxPool (first output only), AveragePool and the global pools."""
    if node.op_type not in POOL_MODES or len(view.used_outputs(node)) != 1 \
            or view.used_outputs(node)[0] != node.outputs[0]:
        return None
    if not _gl_values_ok(view, mc, node, [node.inputs[0]]):
        return None
    geometry = pool_geometry(node.op_type, view.shape(node.inputs[0]),
                             view.shape(node.outputs[0]), node.attributes)
    if geometry is None:
        return None
    kernel = PoolKernel(mc.ctx, node.name or node.outputs[0], node.op_type, geometry)
    return Group("pool", [node], [node.inputs[0]], [node.outputs[0]], kernel)


def match_softmax(view: GraphView, mc: MatchContext, node: PlannedNode,
                  opset: int) -> Group | None:
    """Match Softmax and LogSoftmax."""
    if node.op_type not in ("Softmax", "LogSoftmax"):
        return None
    if not _gl_values_ok(view, mc, node, [node.inputs[0]]):
        return None
    shape = view.shape(node.inputs[0])
    default_axis = -1 if opset >= 13 else 1
    kernel = SoftmaxKernel(mc.ctx, node.name or node.outputs[0], node.op_type, shape,
                           int(node.attributes.get("axis", default_axis)), opset)
    return Group("softmax", [node], [node.inputs[0]], [node.outputs[0]], kernel)


def match_layer_norm(view: GraphView, mc: MatchContext, node: PlannedNode) -> Group | None:
    """Match LayerNormalization with constant scale and bias (first output only)."""
    if node.op_type != "LayerNormalization" or view.used_outputs(node) != [node.outputs[0]]:
        return None
    scale = view.constant(node.inputs[1])
    bias = view.constant(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if scale is None or (len(node.inputs) > 2 and node.inputs[2] and bias is None):
        return None
    if not _gl_values_ok(view, mc, node, [node.inputs[0]]):
        return None
    kernel = LayerNormKernel(mc.ctx, node.name or node.outputs[0], view.shape(node.inputs[0]),
                             int(node.attributes.get("axis", -1)),
                             float(node.attributes.get("epsilon", 1e-5)), scale, bias)
    return Group("layer_norm", [node], [node.inputs[0]], [node.outputs[0]], kernel)


def is_elementwise(view: GraphView, mc: MatchContext, node: PlannedNode) -> bool:
    """True when ``node`` can join a fused elementwise pass."""
    if node.op_type == "BatchNormalization":
        if node.attributes.get("training_mode", 0) or len(view.used_outputs(node)) != 1 \
                or any(not view.is_constant(name) for name in node.inputs[1:5]):
            return False
    elif node.op_type not in ELEMENTWISE_OPS:
        return False
    if view.used_outputs(node) != [node.outputs[0]]:
        return False
    dynamic = [name for name in node.inputs if name and not view.is_constant(name)]
    constants = [view.constant(name) for name in node.inputs if view.is_constant(name)]
    if any(const.dtype.kind not in "fiub" for const in constants):
        return False
    return _gl_values_ok(view, mc, node, dynamic)


def _emit(view: GraphView, node: PlannedNode, members: dict[str, PlannedNode],
          builder: ExpressionBuilder, out_rank: int) -> str:
    args: list[str | None] = []
    # BatchNormalization's statistics become two folded tables, not four inputs.
    names = node.inputs[:1] if node.op_type == "BatchNormalization" else node.inputs
    for name in names:
        if not name:
            args.append(None)
        elif name in members:
            args.append(_emit(view, members[name], members, builder, out_rank))
        elif view.is_constant(name):
            value = view.constant(name)
            args.append(builder.param(float(value.reshape(-1)[0])) if value.size == 1
                        else builder.texture(name, value))
        else:
            args.append(builder.texture(name, None))
    if node.op_type == "BatchNormalization":
        return _batch_norm_expression(view, node, args[0], builder, out_rank)
    return ELEMENTWISE_OPS[node.op_type](args, node.attributes, builder)


def _batch_norm_expression(view: GraphView, node: PlannedNode, x: str | None,
                           builder: ExpressionBuilder, out_rank: int) -> str:
    """Inference BatchNormalization as ``x * factor + shift`` with per-channel constants."""
    gamma, beta, mean, var = (view.constant(name).astype(np.float64)
                              for name in node.inputs[1:5])
    factor = gamma / np.sqrt(var + float(node.attributes.get("epsilon", 1e-5)))
    shift = beta - mean * factor
    rank = len(view.shape(node.inputs[0]))
    channel_shape = (-1,) + (1,) * (rank - 2)
    factor_value = factor.astype(np.float32).reshape(channel_shape)
    shift_value = shift.astype(np.float32).reshape(channel_shape)
    factor_expr = builder.texture(f"{node.outputs[0]}:factor", factor_value)
    shift_expr = builder.texture(f"{node.outputs[0]}:shift", shift_value)
    return f"({x} * {factor_expr} + {shift_expr})"


def match_elementwise(view: GraphView, mc: MatchContext, node: PlannedNode,
                      taken: set[int]) -> Group | None:
    """Fuse ``node`` and the chain of sole elementwise consumers after it into one pass."""
    if not is_elementwise(view, mc, node):
        return None
    members = [node]
    while True:
        output = members[-1].outputs[0]
        consumer = view.sole_consumer(output)
        if consumer is None or id(consumer) in taken or not is_elementwise(view, mc, consumer):
            break
        trial = _build(view, mc, [*members, consumer])
        if trial is None:
            break
        members.append(consumer)
    built = _build(view, mc, members)
    if built is None:
        return None
    kernel, inputs = built
    return Group("elementwise", members, inputs, [members[-1].outputs[0]], kernel)


def _build(view: GraphView, mc: MatchContext, members: list[PlannedNode]
           ) -> tuple[ElementwiseKernel, list[str]] | None:
    by_output = {member.outputs[0]: member for member in members}
    output = members[-1].outputs[0]
    out_shape = view.shape(output)
    builder = ExpressionBuilder()
    expression = _emit(view, members[-1], by_output, builder, len(out_shape))
    if not builder.fits:
        return None
    input_specs = []
    dynamic = []
    for key, constant in builder.texture_inputs:
        if constant is None:
            input_specs.append((view.shape(key), None))
            dynamic.append(key)
        else:
            input_specs.append((tuple(np.shape(constant)), np.asarray(constant)))
    for shape, _ in input_specs:
        try:
            np.broadcast_shapes(shape, out_shape)
        except ValueError:
            return None
    name = members[0].name or output
    kernel = ElementwiseKernel(mc.ctx, name, expression, input_specs, builder.params, out_shape)
    return kernel, dynamic
