"""Dynamic INT8 quantization: int8 weights fixed at quantize time, activations at run time.

Weights are quantized symmetrically (``scale = max|w| / 127``, zero point 0), per output
channel by default. Activations are quantized to uint8 per tensor by ``DynamicQuantizeLinear``
each time the model runs. The output is a standard ONNX model at opset >= 13.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import onnx

from alice_gl.errors import ConfigError, QuantizationError
from alice_gl.model_io import (
    EXTERNAL_DATA_MARGIN_BYTES,
    PROTOBUF_LIMIT_BYTES,
    ModelSource,
    default_opset,
    load_model,
    model_size_bytes,
)
from alice_gl.quantization.channel_axis import SUPPORTED_OP_TYPES, WEIGHT_INPUT_INDEX
from alice_gl.quantization.cleanup import remove_unused
from alice_gl.quantization.folding import fold_weights
from alice_gl.quantization.graph_walk import iter_graphs
from alice_gl.quantization.opset import prepare_opset
from alice_gl.quantization.report import QuantizationReport
from alice_gl.quantization.rewrite import ModelRewriter, RewriteOptions, node_label

logger = logging.getLogger(__name__)


def quantize_dynamic(model: ModelSource, *, per_channel: bool = True,
                     op_types: Iterable[str] | None = None,
                     exclude_nodes: Iterable[str] = ()
                     ) -> tuple[onnx.ModelProto, QuantizationReport]:
    """Quantize the weights of ``model`` to int8 with dynamic uint8 activations.

    ``model`` is a path, serialized bytes or a ``ModelProto``; it is never modified.
    ``per_channel=False`` gives one scale per weight tensor. ``op_types`` limits the rewrite to
    some of MatMul, Gemm, Conv and ConvTranspose (default all). ``exclude_nodes`` lists node
    names (the first output's name for an unnamed node) to leave FP32.

    Returns the INT8 model, which has passed ``onnx.checker``, and its report. Raises
    ``InvalidModelError`` for a model that fails to load, ``ConfigError`` for an unknown op
    type or node name, and ``QuantizationError`` for a weight with NaN or Inf.
    """
    options = rewrite_options(per_channel, op_types, exclude_nodes)
    source = load_model(model, infer_shapes=False)
    fp32_bytes = model_size_bytes(source)
    check_excluded_names(source, options.exclude_nodes)

    work = prepare_opset(source)
    folded = fold_weights(work.graph, lambda node: is_selected(node, options))
    report = QuantizationReport(mode="dynamic", per_channel=per_channel,
                                opset=default_opset(work))
    rewriter = ModelRewriter(work, options, report)
    rewriter.rewrite()
    remove_unused(work, rewriter.replaced_weights | folded)
    check_output(work)

    report.fp32_bytes = fp32_bytes
    report.int8_bytes = model_size_bytes(work)
    logger.info("Quantized %d node(s); %d -> %d bytes (%.2fx)", len(report.quantized_nodes),
                report.fp32_bytes, report.int8_bytes, report.compression_ratio)
    return work, report


def rewrite_options(per_channel: bool, op_types: Iterable[str] | None,
                    exclude_nodes: Iterable[str]) -> RewriteOptions:
    """Validate the quantizer options shared by dynamic and static mode; ConfigError if bad."""
    if isinstance(op_types, str) or isinstance(exclude_nodes, str):
        raise ConfigError("op_types and exclude_nodes take a list of names, not one string.")
    selected = frozenset(SUPPORTED_OP_TYPES if op_types is None else op_types)
    unknown = sorted(selected - set(SUPPORTED_OP_TYPES))
    if unknown:
        raise ConfigError(f"Unsupported op type(s) {', '.join(unknown)} in op_types; choose "
                          f"from {', '.join(SUPPORTED_OP_TYPES)}.")
    return RewriteOptions(per_channel=bool(per_channel), op_types=selected,
                          exclude_nodes=frozenset(exclude_nodes))


def is_selected(node: onnx.NodeProto, options: RewriteOptions) -> bool:
    """Return whether ``node`` is a weight op selected for quantization by ``options``."""
    return (node.domain in ("", "ai.onnx") and node.op_type in WEIGHT_INPUT_INDEX
            and node.op_type in options.op_types
            and node_label(node) not in options.exclude_nodes)


def check_excluded_names(model: onnx.ModelProto, exclude_nodes: frozenset[str]) -> None:
    """Raise ConfigError when an excluded name matches no node in any graph of ``model``."""
    labels = {node_label(node) for graph in iter_graphs(model.graph) for node in graph.node}
    missing = sorted(exclude_nodes - labels)
    if missing:
        raise ConfigError(f"No node named {', '.join(missing)} in the model, so it cannot be "
                          "excluded; `alice-gl inspect MODEL` lists the node names.")


def check_output(model: onnx.ModelProto) -> None:
    """Run ``onnx.checker`` on the INT8 model; a failure is a bug in the rewrite."""
    if model.ByteSize() >= PROTOBUF_LIMIT_BYTES - EXTERNAL_DATA_MARGIN_BYTES:
        # NOTE: the checker serializes the whole model, which protobuf cannot do past 2 GiB,
        # so models that large are saved unchecked.
        logger.warning("The INT8 model is too large for onnx.checker in memory; not checked")
        return
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:
        raise QuantizationError(f"The INT8 model fails onnx.checker: {error}") from error
