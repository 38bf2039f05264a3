"""Quantize a model, judge it with the accuracy guard, and decide what to serve.

This is the engine's work without its threading and state: ``quantize_and_guard`` takes an
FP32 model, samples and a config, and returns the ``QuantizationResult`` and the model to
serve (or None). Steps:

1. Quantize every eligible layer and compare with FP32 on the samples.
2. On verdict ``fail`` with automatic and partial fallback on, measure each layer's
   sensitivity and keep the most sensitive layers FP32, one at a time, until the guard passes
   or ``max_fallback_layers`` is reached.
3. Serve the INT8 model when the guard passes. Otherwise serve the FP32 model when automatic
   fallback is on, or nothing (``success`` False) when it is off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import onnx

from alice_gl.calibration import quantize_static
from alice_gl.calibration.loaders import CalibrationSource
from alice_gl.engine.config import QuantizationConfig
from alice_gl.engine.evaluation import Evaluator, sample_feeds
from alice_gl.engine.guard import GuardDecision, Verdict, judge
from alice_gl.engine.result import LayerReport, QuantizationResult
from alice_gl.engine.sensitivity import (
    Layer,
    LayerSensitivity,
    PartialFallback,
    measure_sensitivity,
    run_partial_fallback,
)
from alice_gl.engine.similarity import OutputSimilarity, mean_cosine, min_cosine
from alice_gl.model_io import model_size_bytes
from alice_gl.quantization import quantize_dynamic

logger = logging.getLogger(__name__)

Quantizer = Callable[[tuple[str, ...]], tuple[onnx.ModelProto, Any]]


@dataclass(frozen=True)
class GuardedModel:
    """A ``QuantizationResult`` and the model the engine serves (None: serve nothing).

    ``sample_feed`` is the first evaluation sample (a batch of one), which the engine runs
    once on the backend it builds, so a plan that cannot run fails in ``quantize``.
    """

    result: QuantizationResult
    served_model: onnx.ModelProto | None
    reason: str
    sample_feed: dict[str, np.ndarray] | None = None


def quantize_and_guard(fp32_model: onnx.ModelProto, calibration: CalibrationSource | None,
                       config: QuantizationConfig, *,
                       validation: CalibrationSource | None = None,
                       with_sensitivity: bool = False) -> GuardedModel:
    """Quantize ``fp32_model`` (already loaded and checked) and apply the accuracy guard.

    ``calibration`` may be None in dynamic mode when ``validation`` is given.
    Similarity is measured on ``validation`` when given, else on ``calibration``, at most
    ``config.calibration_samples`` samples. ``with_sensitivity`` measures per-layer sensitivity
    even when the guard passes (for a plot).
    """
    if validation is None:
        feeds = sample_feeds(fp32_model, calibration, config.calibration_samples)
    else:
        feeds = sample_feeds(fp32_model, validation, config.calibration_samples, "validation")
    evaluator = Evaluator(fp32_model, feeds)
    quantize = _quantizer(fp32_model, calibration, config)

    def decide(similarity: float) -> GuardDecision:
        return judge(similarity, fallback_threshold=config.fallback_threshold,
                     warn_threshold=config.warn_threshold)

    int8_model, report = quantize(())
    full = _Judged(int8_model, report, *_measure(evaluator, int8_model), decide)
    layers = [Layer(node.name, node.op_type) for node in report.quantized_nodes]
    logger.info("Quantized %d layers (%s): min similarity %.6f over %d samples, verdict %s",
                len(layers), config.mode, full.decision.similarity, evaluator.sample_count,
                full.decision.verdict)

    wants_fallback = (not full.decision.passed and config.enable_auto_fallback
                      and config.partial_fallback and len(layers) > 1)
    sensitivity: list[LayerSensitivity] = []
    if wants_fallback or with_sensitivity:
        sensitivity = _measure_sensitivity(layers, quantize, evaluator)

    final, partial = full, None
    if wants_fallback:
        partial = run_partial_fallback(
            sensitivity, quantize_excluding=quantize,
            measure=lambda candidate: _measure(evaluator, candidate[0]),
            judge=decide, max_layers=config.max_fallback_layers)
        if partial.steps:
            final = _Judged(*partial.candidate, partial.measurement,
                            partial.steps[-1].similarity, decide)

    guarded = _finish(fp32_model, config, full, final, partial, layers, sensitivity,
                      evaluator.sample_count)
    return replace(guarded, sample_feed=evaluator.feeds[0] if evaluator.feeds else None)


@dataclass(frozen=True)
class _Judged:
    """A quantized model with its report, similarities and guard decision."""

    model: onnx.ModelProto
    report: Any
    similarities: dict[str, OutputSimilarity]
    similarity: float
    judge: Callable[[float], GuardDecision]

    @property
    def decision(self) -> GuardDecision:
        return self.judge(self.similarity)


def _quantizer(fp32_model: onnx.ModelProto, calibration: CalibrationSource | None,
               config: QuantizationConfig) -> Quantizer:
    """Return ``quantize(fp32_nodes) -> (model, report)`` for the configured mode.

    ``fp32_nodes`` are kept FP32 on top of ``config.exclude_nodes``. Only the first static
    run, with no extra FP32 nodes, shows the calibration progress bar.
    """
    def quantize(fp32_nodes: tuple[str, ...]) -> tuple[onnx.ModelProto, Any]:
        exclude = (*config.exclude_nodes, *fp32_nodes)
        if config.mode == "static":
            # NOTE: each sensitivity and fallback step calibrates again on the same data; the
            # activation statistics of the first run could be reused.
            return quantize_static(
                fp32_model, calibration, strategy=config.calibration_strategy,
                samples=config.calibration_samples, percentile=config.percentile,
                per_channel=config.per_channel, op_types=config.op_types, exclude_nodes=exclude,
                progress=not fp32_nodes)
        return quantize_dynamic(fp32_model, per_channel=config.per_channel,
                                op_types=config.op_types, exclude_nodes=exclude)

    return quantize


def _measure(evaluator: Evaluator,
             candidate: onnx.ModelProto) -> tuple[dict[str, OutputSimilarity], float]:
    similarities = evaluator.compare(candidate)
    return similarities, min_cosine(similarities)


def _measure_sensitivity(layers: list[Layer], quantize: Quantizer,
                         evaluator: Evaluator) -> list[LayerSensitivity]:
    names = [layer.node for layer in layers]

    def similarity_with_only(layer: Layer) -> float:
        others = tuple(name for name in names if name != layer.node)
        return _measure(evaluator, quantize(others)[0])[1]

    return measure_sensitivity(layers, similarity_with_only)


def _finish(fp32_model: onnx.ModelProto, config: QuantizationConfig, full: _Judged,
            final: _Judged, partial: PartialFallback | None, layers: list[Layer],
            sensitivity: list[LayerSensitivity], sample_count: int) -> GuardedModel:
    """Pick the served model, log what happened, and build the result.

    ``full`` is the model with every layer quantized, ``final`` the one judged last (the
    same unless partial fallback ran).
    """
    decision = final.decision
    fp32_layers = partial.fp32_layers if partial else ()
    messages = [full.decision.message]
    if not layers:
        messages.append("the quantizer found no layer to quantize, so the INT8 model is the "
                        "FP32 graph")
        logger.warning("No layer was quantized; check op_types and exclude_nodes")
    served_model: onnx.ModelProto | None = final.model
    served_mode, success, error = "int8", True, None

    if partial and partial.steps:
        messages.append(f"partial fallback kept {len(fp32_layers)} layer(s) FP32 "
                        f"({', '.join(fp32_layers)}): similarity {decision.similarity:.4f}, "
                        f"verdict {decision.verdict}")
        logger.warning("Partial fallback kept %d layer(s) FP32 (%s): similarity %.4f -> %.4f",
                       len(fp32_layers), ", ".join(fp32_layers), full.similarity,
                       decision.similarity)

    if decision.verdict is Verdict.WARN:
        messages.append("serving the INT8 model")
        logger.warning("INT8 model accepted with a warning: %s", decision.message)
    elif decision.verdict is Verdict.OK:
        messages.append("serving the INT8 model")
    elif config.enable_auto_fallback:
        served_model, served_mode = fp32_model, "fp32"
        messages.append("serving the FP32 model (automatic fallback)")
        logger.warning("INT8 model rejected, %s; serving the FP32 model", decision.message)
    else:
        served_model, served_mode, success, error = None, "none", False, decision.message
        messages.append("automatic fallback is off, so no model is served")
        logger.warning("INT8 model rejected, %s; automatic fallback is off, so no model is "
                       "served", decision.message)

    alone = {item.node: item.similarity for item in sensitivity}
    layer_reports = tuple(LayerReport(layer.node, layer.op_type, layer.node not in fp32_layers,
                                      alone.get(layer.node)) for layer in layers)
    fp32_bytes, int8_bytes = model_size_bytes(fp32_model), model_size_bytes(final.model)
    result = QuantizationResult(
        success=success, model=final.model, served_mode=served_mode, verdict=decision.verdict,
        min_similarity=final.similarity, mean_similarity=mean_cosine(final.similarities),
        similarity=final.similarities, initial_similarity=full.similarity,
        evaluation_samples=sample_count, fp32_bytes=fp32_bytes, int8_bytes=int8_bytes,
        compression_ratio=fp32_bytes / int8_bytes, fp32_layers=fp32_layers,
        fallback_steps=partial.steps if partial else (), layers=layer_reports,
        sensitivity=tuple(sensitivity), messages=tuple(messages), error=error,
        quantization_report=final.report)
    return GuardedModel(result, served_model, "; ".join(messages))
