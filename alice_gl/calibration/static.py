"""Static INT8 quantization: calibrated uint8 activations and int8 weights, in QDQ form.

Each quantized MatMul, Gemm, Conv or ConvTranspose keeps its FP32 op and reads

- its activation through ``QuantizeLinear`` -> ``DequantizeLinear`` with a calibrated uint8
  scale and zero point (one pair per activation tensor, shared by the nodes reading it), and
- its weight as an int8 initializer through ``DequantizeLinear(W_q, w_scale, w_zero_point,
  axis)``, quantized by the dynamic quantizer's weight path with the same channel-axis table.

onnxruntime recognizes these QDQ patterns and the NumPy executor runs them as written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from alice_gl.calibration.collector import collect_statistics
from alice_gl.calibration.loaders import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SAMPLES,
    CalibrationSource,
    load_calibration_data,
)
from alice_gl.calibration.qparams import scale_zero_point
from alice_gl.calibration.report import ActivationRecord, StaticQuantizationReport
from alice_gl.calibration.statistics import TensorStatistics
from alice_gl.calibration.strategies import DEFAULT_PERCENTILE, STRATEGIES, compute_range
from alice_gl.errors import ConfigError
from alice_gl.model_io import ModelSource, default_opset, load_model, model_size_bytes
from alice_gl.quantization.cleanup import remove_unused
from alice_gl.quantization.dynamic import (
    check_excluded_names,
    check_output,
    is_selected,
    rewrite_options,
)
from alice_gl.quantization.folding import fold_weights
from alice_gl.quantization.opset import prepare_opset
from alice_gl.quantization.rewrite import GraphContext, ModelRewriter

logger = logging.getLogger(__name__)

MAIN_GRAPH = "main"


@dataclass(frozen=True)
class _ActivationSlot:
    """The scale and zero-point initializers written for one activation, to be calibrated."""

    name: str
    scale_name: str
    zero_point_name: str


class StaticRewriter(ModelRewriter):
    """``ModelRewriter`` that writes QDQ pairs with calibrated parameters on activations.

    Activation scales and zero points are written as placeholders and listed in ``slots``;
    ``quantize_static`` overwrites them once calibration has run.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.slots: list[_ActivationSlot] = []

    def _emit_matmul(self, node: onnx.NodeProto, label: str, scopes: list[GraphContext],
                     owner: GraphContext, weight: onnx.TensorProto) -> None:
        # QDQ keeps the original op, so MatMul and Gemm take the same path as Conv.
        self._emit_conv(node, label, scopes[-1], owner, weight)

    def _quantize_activation(self, context: GraphContext, x: str) -> tuple[str, str, str]:
        if context.path != MAIN_GRAPH:
            # NOTE: the executor returns values of the main graph only, so activations inside
            # If/Loop/Scan bodies cannot be calibrated and keep dynamic quantization.
            logger.warning("Activation %r in %s is quantized dynamically: only main-graph "
                           "values can be calibrated", x, context.path)
            return super()._quantize_activation(context, x)
        if x not in context.quantized_activations:
            scale = self._add_initializer(context, f"{x}_scale", np.array(1.0, np.float32))
            zero_point = self._add_initializer(context, f"{x}_zero_point",
                                               np.array(0, np.uint8))
            quantized = self.names.new(f"{x}_quantized")
            context.new_nodes.append(helper.make_node(
                "QuantizeLinear", [x, scale, zero_point], [quantized],
                name=self.names.new(f"{x}_QuantizeLinear")))
            context.quantized_activations[x] = (quantized, scale, zero_point)
            self.slots.append(_ActivationSlot(x, scale, zero_point))
        return context.quantized_activations[x]


def quantize_static(model: ModelSource, calibration: CalibrationSource, *,
                    strategy: str = "minmax", samples: int = DEFAULT_SAMPLES,
                    percentile: float = DEFAULT_PERCENTILE, per_channel: bool = True,
                    op_types: Iterable[str] | None = None, exclude_nodes: Iterable[str] = (),
                    batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = True
                    ) -> tuple[onnx.ModelProto, StaticQuantizationReport]:
    """Quantize ``model`` to INT8 in QDQ form with activation ranges from ``calibration``.

    ``model`` is a path, serialized bytes or a ``ModelProto`` and is never modified.
    ``calibration`` is any source ``load_calibration_data`` accepts; at most ``samples`` samples
    are used, ``batch_size`` at a time. ``strategy`` is one of minmax, percentile, kl and mse;
    ``percentile`` (in percent) applies to the percentile strategy. ``per_channel``,
    ``op_types`` and ``exclude_nodes`` act as in ``quantize_dynamic``. ``progress`` shows a
    tqdm bar on stderr while calibrating.

    Returns the INT8 model, which has passed ``onnx.checker``, and its report. Raises
    ``ConfigError`` for an unknown strategy, op type or node name, ``CalibrationDataError`` when
    the data does not match the model's inputs, ``InvalidModelError`` for a model that fails to
    load, and ``QuantizationError`` for a weight or activation with NaN or Inf.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"Unknown calibration strategy {strategy!r}; use one of "
                          f"{', '.join(STRATEGIES)}.")
    if not 50.0 <= percentile <= 100.0:
        raise ConfigError(f"percentile must be between 50 and 100 (percent), got {percentile}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}.")
    options = rewrite_options(per_channel, op_types, exclude_nodes)
    source = load_model(model, infer_shapes=False)
    fp32_bytes = model_size_bytes(source)
    check_excluded_names(source, options.exclude_nodes)

    work = prepare_opset(source)
    folded = fold_weights(work.graph, lambda node: is_selected(node, options))
    fp32 = onnx.ModelProto()
    fp32.CopyFrom(work)
    data = load_calibration_data(calibration, fp32, samples=samples)

    report = StaticQuantizationReport(
        mode="static", per_channel=per_channel, opset=default_opset(work), strategy=strategy,
        percentile=percentile if strategy == "percentile" else None,
        calibration_samples=data.num_samples)
    rewriter = StaticRewriter(work, options, report)
    rewriter.rewrite()

    statistics = collect_statistics(fp32, data, [slot.name for slot in rewriter.slots],
                                    batch_size=batch_size, progress=progress)
    for slot in rewriter.slots:
        record = _calibrate(slot, statistics[slot.name], strategy, percentile)
        _set_initializer(work.graph, slot.scale_name, np.array(record.scale, np.float32))
        _set_initializer(work.graph, slot.zero_point_name, np.array(record.zero_point, np.uint8))
        report.activations.append(record)

    remove_unused(work, rewriter.replaced_weights | folded)
    check_output(work)
    report.fp32_bytes = fp32_bytes
    report.int8_bytes = model_size_bytes(work)
    logger.info("Quantized %d node(s) statically (%s, %d activation(s)); %d -> %d bytes (%.2fx)",
                len(report.quantized_nodes), strategy, len(report.activations),
                report.fp32_bytes, report.int8_bytes, report.compression_ratio)
    return work, report


def _calibrate(slot: _ActivationSlot, statistics: TensorStatistics, strategy: str,
               percentile: float) -> ActivationRecord:
    rmin, rmax = compute_range(statistics, strategy, percentile=percentile)
    scale, zero_point = scale_zero_point(rmin, rmax)
    logger.debug("Activation %s: observed [%g, %g], %s range [%g, %g], scale %g, zero point %d",
                 slot.name, statistics.min, statistics.max, strategy, rmin, rmax, scale,
                 zero_point)
    return ActivationRecord(
        name=slot.name, graph=MAIN_GRAPH, scale_name=slot.scale_name,
        zero_point_name=slot.zero_point_name, observed_min=float(statistics.min),
        observed_max=float(statistics.max), rmin=rmin, rmax=rmax, scale=float(scale),
        zero_point=int(zero_point))


def _set_initializer(graph: onnx.GraphProto, name: str, value: np.ndarray) -> None:
    for tensor in graph.initializer:
        if tensor.name == name:
            tensor.CopyFrom(numpy_helper.from_array(value, name))
            return
    raise KeyError(name)
