"""Rewrite an FP32 graph into the dynamic INT8 form, graph by graph, node by node.

Each selected node with a constant float32 weight becomes one of two chains (the node chains
are listed in ``docs/int8_format.md``):

- MatMul, Gemm: ``DynamicQuantizeLinear`` on the activation, ``MatMulInteger`` with the int8
  weight ``B[K, N]``, ``Cast`` to float, ``Mul`` by ``x_scale * w_scale``, and ``Add`` of the
  bias for a Gemm with ``C``.
- Conv, ConvTranspose: ``DynamicQuantizeLinear`` then ``DequantizeLinear`` on the activation,
  and ``DequantizeLinear`` of the int8 weight, feeding the original node; the bias stays FP32.

The rewrite walks If, Loop and Scan bodies. A weight read by several nodes is quantized once
per stored layout, and an activation read by several nodes is quantized once per graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from alice_gl.quantization.channel_axis import (
    SUPPORTED_OP_TYPES,
    WEIGHT_INPUT_INDEX,
    ChannelAxis,
    channel_axis,
    get_attribute,
)
from alice_gl.quantization.graph_walk import NameAllocator, subgraphs
from alice_gl.quantization.report import (
    PER_CHANNEL,
    PER_TENSOR,
    QUANTIZED,
    SKIPPED,
    NodeDecision,
    QuantizationReport,
    WeightRecord,
)
from alice_gl.quantization.weights import quantize_weight

logger = logging.getLogger(__name__)

# Required rank of the weight per op type; None accepts any rank the op allows.
_WEIGHT_RANK = {"MatMul": 2, "Gemm": 2, "Conv": None, "ConvTranspose": None}


@dataclass(frozen=True)
class RewriteOptions:
    """Rewrite settings: selected op types, node labels to skip, and per-channel or not."""

    per_channel: bool
    op_types: frozenset[str]
    exclude_nodes: frozenset[str]


def node_label(node: onnx.NodeProto) -> str:
    """Return the name that reports and ``exclude_nodes`` use: the node name, else its output."""
    return node.name or (node.output[0] if node.output else node.op_type)


@dataclass
class GraphContext:
    """One graph being rewritten, with the nodes emitted so far and its per-graph caches."""

    graph: onnx.GraphProto
    path: str
    new_nodes: list[onnx.NodeProto] = field(default_factory=list)
    quantized_activations: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    dequantized_activations: dict[str, str] = field(default_factory=dict)
    dequantized_weights: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overridable = {value.name for value in self.graph.input}
        self.constants = {tensor.name: tensor for tensor in self.graph.initializer
                          if tensor.name not in overridable}


@dataclass
class _QuantizedWeight:
    """The int8 initializers written for one weight in one stored layout."""

    record: WeightRecord
    owner: GraphContext
    axis: int | None
    zero_point_name: str | None = None


class ModelRewriter:
    """Rewrites every graph of a model in place; the caller passes a private copy."""

    def __init__(self, model: onnx.ModelProto, options: RewriteOptions,
                 report: QuantizationReport) -> None:
        self.model = model
        self.options = options
        self.report = report
        self.names = NameAllocator(model)
        self.replaced_weights: set[str] = set()
        self._weights: dict[tuple[int, str, bool, int | None], _QuantizedWeight] = {}
        # Contexts stay referenced so that the id() in a weight cache key is never reused.
        self._contexts: list[GraphContext] = []

    def rewrite(self) -> None:
        """Rewrite the main graph and, recursively, every subgraph."""
        self._rewrite_graph(self.model.graph, "main", [])

    def _rewrite_graph(self, graph: onnx.GraphProto, path: str,
                       outer: list[GraphContext]) -> None:
        context = GraphContext(graph, path)
        self._contexts.append(context)
        scopes = [*outer, context]
        for node in graph.node:
            for attribute_name, body in subgraphs(node):
                self._rewrite_graph(body, f"{path}/{node_label(node)}.{attribute_name}", scopes)
            self._rewrite_node(node, scopes)
        # Copies were taken while the nodes were still attached; replace the list at once.
        del graph.node[:]
        graph.node.extend(context.new_nodes)

    def _rewrite_node(self, node: onnx.NodeProto, scopes: list[GraphContext]) -> None:
        context = scopes[-1]
        label = node_label(node)
        reason = self._skip_reason(node, label)
        found = None
        if reason is None:
            found = self._find_constant(node.input[WEIGHT_INPUT_INDEX[node.op_type]], scopes)
            reason = self._weight_skip_reason(node, found)
        if reason is not None:
            context.new_nodes.append(_copy(node))
            self.report.nodes.append(NodeDecision(label, node.op_type, context.path, SKIPPED,
                                                  reason=reason))
            logger.debug("Left %s %r FP32: %s", node.op_type, label, reason)
            return

        owner, weight = found
        if node.op_type in ("MatMul", "Gemm"):
            self._emit_matmul(node, label, scopes, owner, weight)
        else:
            self._emit_conv(node, label, context, owner, weight)
        self.report.nodes.append(NodeDecision(label, node.op_type, context.path, QUANTIZED,
                                              weight=weight.name))

    def _skip_reason(self, node: onnx.NodeProto, label: str) -> str | None:
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED_OP_TYPES:
            return f"{node.op_type} has no weight to quantize"
        if node.op_type not in self.options.op_types:
            return f"op type {node.op_type} is not among the selected op types"
        if label in self.options.exclude_nodes:
            return "excluded by name"
        return None

    def _weight_skip_reason(self, node: onnx.NodeProto, found) -> str | None:
        weight_name = node.input[WEIGHT_INPUT_INDEX[node.op_type]]
        if found is None:
            return f"weight input {weight_name!r} is not a constant initializer"
        tensor = found[1]
        if tensor.data_type != TensorProto.FLOAT:
            dtype = TensorProto.DataType.Name(tensor.data_type)
            return f"weight {weight_name!r} is {dtype}; only FLOAT weights are quantized"
        rank = _WEIGHT_RANK[node.op_type]
        if rank is not None and len(tensor.dims) != rank:
            return (f"weight {weight_name!r} has rank {len(tensor.dims)}; {node.op_type} "
                    f"weights are quantized only at rank {rank}")
        return None

    @staticmethod
    def _find_constant(name: str, scopes: list[GraphContext]):
        """Return ``(owner context, initializer)`` for constant ``name``, else None."""
        for context in reversed(scopes):
            if name in context.constants:
                return context, context.constants[name]
            if any(value.name == name for value in context.graph.input):
                return None
        return None

    # MatMul and Gemm.

    def _emit_matmul(self, node: onnx.NodeProto, label: str, scopes: list[GraphContext],
                     owner: GraphContext, weight: onnx.TensorProto) -> None:
        context = scopes[-1]
        is_gemm = node.op_type == "Gemm"
        x = node.input[0]
        if is_gemm and get_attribute(node, "transA", 0):
            transposed = self.names.new(f"{label}_A_transposed")
            context.new_nodes.append(helper.make_node(
                "Transpose", [x], [transposed], name=self.names.new(f"{label}_Transpose"),
                perm=[1, 0]))
            x = transposed
        transpose_weight = is_gemm and bool(get_attribute(node, "transB", 0))
        quantized = self._quantize(owner, weight, channel_axis(node), transpose_weight, label)

        scale_name = quantized.record.scale_name
        alpha = float(get_attribute(node, "alpha", 1.0)) if is_gemm else 1.0
        if alpha != 1.0:
            # Fold alpha into a per-node copy of the weight scale, so a shared weight keeps
            # its own scale tensor unchanged.
            scale = numpy_helper.to_array(_initializer(owner.graph, scale_name))
            scale_name = self._add_initializer(
                context, f"{label}_alpha_scale", (scale * np.float32(alpha)).astype(np.float32))
        bias = self._gemm_bias(node, label, scopes) if is_gemm else None

        x_quantized, x_scale, x_zero_point = self._quantize_activation(context, x)
        accumulator = self.names.new(f"{label}_accumulator")
        accumulator_float = self.names.new(f"{label}_accumulator_float")
        output_scale = self.names.new(f"{label}_output_scale")
        output = node.output[0]
        product = output if bias is None else self.names.new(f"{label}_unbiased")
        context.new_nodes += [
            helper.make_node("MatMulInteger",
                             [x_quantized, quantized.record.quantized_name, x_zero_point],
                             [accumulator], name=self.names.new(f"{label}_MatMulInteger")),
            helper.make_node("Cast", [accumulator], [accumulator_float],
                             name=self.names.new(f"{label}_Cast"), to=TensorProto.FLOAT),
            helper.make_node("Mul", [x_scale, scale_name], [output_scale],
                             name=self.names.new(f"{label}_scale_Mul")),
            helper.make_node("Mul", [accumulator_float, output_scale], [product],
                             name=self.names.new(f"{label}_Mul")),
        ]
        if bias is not None:
            context.new_nodes.append(helper.make_node(
                "Add", [product, bias], [output], name=self.names.new(f"{label}_Add")))

    def _gemm_bias(self, node: onnx.NodeProto, label: str,
                   scopes: list[GraphContext]) -> str | None:
        """Return the tensor to add as ``beta * C``, emitting what computes it; None for none."""
        if len(node.input) < 3 or not node.input[2]:
            return None
        beta = float(get_attribute(node, "beta", 1.0))
        if beta == 0.0:
            return None
        bias = node.input[2]
        if beta == 1.0:
            return bias
        context = scopes[-1]
        found = self._find_constant(bias, scopes)
        if found is not None and found[1].data_type == TensorProto.FLOAT:
            self.replaced_weights.add(bias)
            scaled = numpy_helper.to_array(found[1]) * np.float32(beta)
            return self._add_initializer(context, f"{label}_bias", scaled.astype(np.float32))
        beta_name = self._add_initializer(context, f"{label}_beta", np.array(beta, np.float32))
        scaled_name = self.names.new(f"{label}_bias")
        context.new_nodes.append(helper.make_node(
            "Mul", [bias, beta_name], [scaled_name], name=self.names.new(f"{label}_beta_Mul")))
        return scaled_name

    # Conv and ConvTranspose.

    def _emit_conv(self, node: onnx.NodeProto, label: str, context: GraphContext,
                   owner: GraphContext, weight: onnx.TensorProto) -> None:
        quantized = self._quantize(owner, weight, channel_axis(node), False, label)
        rewritten = _copy(node)
        rewritten.input[0] = self._dequantize_activation(context, node.input[0])
        rewritten.input[1] = self._dequantize_weight(context, quantized)
        context.new_nodes.append(rewritten)

    # Shared pieces: activations and weights.

    def _quantize_activation(self, context: GraphContext, x: str) -> tuple[str, str, str]:
        """Return ``(x_quantized, x_scale, x_zero_point)``, adding DynamicQuantizeLinear once."""
        if x not in context.quantized_activations:
            outputs = (self.names.new(f"{x}_quantized"), self.names.new(f"{x}_scale"),
                       self.names.new(f"{x}_zero_point"))
            context.new_nodes.append(helper.make_node(
                "DynamicQuantizeLinear", [x], list(outputs),
                name=self.names.new(f"{x}_DynamicQuantizeLinear")))
            context.quantized_activations[x] = outputs
        return context.quantized_activations[x]

    def _dequantize_activation(self, context: GraphContext, x: str) -> str:
        if x not in context.dequantized_activations:
            quantized = self._quantize_activation(context, x)
            output = self.names.new(f"{x}_dequantized")
            context.new_nodes.append(helper.make_node(
                "DequantizeLinear", list(quantized), [output],
                name=self.names.new(f"{x}_DequantizeLinear")))
            context.dequantized_activations[x] = output
        return context.dequantized_activations[x]

    def _dequantize_weight(self, context: GraphContext, quantized: _QuantizedWeight) -> str:
        record = quantized.record
        if record.quantized_name not in context.dequantized_weights:
            if quantized.zero_point_name is None:
                scale_shape = () if quantized.axis is None else (record.shape[quantized.axis],)
                zero_point = np.zeros(scale_shape, np.int8)
                quantized.zero_point_name = self._add_initializer(
                    quantized.owner, f"{record.name}_zero_point", zero_point)
                record.int8_bytes += zero_point.nbytes
            base = record.quantized_name.removesuffix("_quantized")
            output = self.names.new(f"{base}_dequantized")
            attributes = {} if quantized.axis is None else {"axis": quantized.axis}
            context.new_nodes.append(helper.make_node(
                "DequantizeLinear",
                [record.quantized_name, record.scale_name, quantized.zero_point_name], [output],
                name=self.names.new(f"{base}_DequantizeLinear"), **attributes))
            context.dequantized_weights[record.quantized_name] = output
        return context.dequantized_weights[record.quantized_name]

    def _quantize(self, owner: GraphContext, weight: onnx.TensorProto, plan: ChannelAxis,
                  transpose: bool, label: str) -> _QuantizedWeight:
        """Return the int8 form of ``weight``, writing its initializers on first use."""
        axis = plan.axis if self.options.per_channel else None
        key = (id(owner), weight.name, transpose, axis)
        if key in self._weights:
            self._weights[key].record.nodes.append(label)
            return self._weights[key]

        # The name carries the node, so a NaN or Inf weight names the node to exclude.
        q, scale = quantize_weight(numpy_helper.to_array(weight), axis,
                                   name=f"{weight.name} of node {label!r}")
        stored_axis = axis
        base = weight.name
        if transpose:
            q = np.ascontiguousarray(q.T)
            stored_axis = None if axis is None else 1 - axis
            base = f"{weight.name}_transposed"
        quantized_name = self._add_initializer(owner, f"{base}_quantized", q)
        scale_name = self._add_initializer(owner, f"{base}_scale", scale)
        fallback = plan.reason if self.options.per_channel and plan.axis is None else None
        record = WeightRecord(
            name=weight.name, quantized_name=quantized_name, scale_name=scale_name,
            shape=list(q.shape), granularity=PER_TENSOR if axis is None else PER_CHANNEL,
            axis=stored_axis, transposed=transpose, fp32_bytes=4 * q.size,
            int8_bytes=q.size + scale.nbytes, nodes=[label], reason=fallback)
        if fallback:
            logger.warning("Weight %s: %s", weight.name, fallback)
        self.report.weights.append(record)
        self.replaced_weights.add(weight.name)
        self._weights[key] = _QuantizedWeight(record, owner, stored_axis)
        return self._weights[key]

    def _add_initializer(self, context: GraphContext, base: str, value: np.ndarray) -> str:
        name = self.names.new(base)
        context.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name


def _copy(node: onnx.NodeProto) -> onnx.NodeProto:
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    return copy


def _initializer(graph: onnx.GraphProto, name: str) -> onnx.TensorProto:
    for tensor in graph.initializer:
        if tensor.name == name:
            return tensor
    raise KeyError(name)
