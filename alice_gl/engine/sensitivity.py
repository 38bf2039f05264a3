"""Per-layer sensitivity and partial FP32 fallback.

Sensitivity quantizes one layer at a time, every other layer FP32, and records the model's
minimum output cosine against FP32: the lower it is, the more that layer alone costs. Partial
fallback starts from the fully quantized model and keeps the most sensitive layers FP32, one
more per step, re-quantizing and re-measuring each time, until the guard passes or the layer
limit is reached.

Both take callables for quantizing and measuring, so this module depends on neither the
quantizer nor an executor.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alice_gl.engine.guard import GuardDecision, Verdict
from alice_gl.errors import InvalidInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layer:
    """A quantizable node, by its ONNX node name and op type."""

    node: str
    op_type: str


@dataclass(frozen=True)
class LayerSensitivity:
    """Minimum output cosine against FP32 with only ``node`` quantized."""

    node: str
    op_type: str
    similarity: float

    @property
    def sensitivity(self) -> float:
        """``1 - similarity``: 0 for a layer whose quantization costs nothing."""
        return 1.0 - self.similarity

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return {"node": self.node, "op_type": self.op_type, "similarity": self.similarity}


@dataclass(frozen=True)
class FallbackStep:
    """One step of partial fallback: ``node`` joined the FP32 layers ``fp32_layers``."""

    node: str
    fp32_layers: tuple[str, ...]
    similarity: float
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return {"node": self.node, "fp32_layers": list(self.fp32_layers),
                "similarity": self.similarity, "verdict": self.verdict.value}


@dataclass(frozen=True)
class PartialFallback:
    """Outcome of partial fallback: every step, and the last model built with its measurement.

    ``passed`` is True when the last step's verdict is ``ok`` or ``warn``. ``candidate`` and
    ``measurement`` are whatever the caller's ``quantize_excluding`` and ``measure`` returned
    for the last step, or None when no step ran.
    """

    steps: tuple[FallbackStep, ...]
    passed: bool
    candidate: Any
    measurement: Any

    @property
    def fp32_layers(self) -> tuple[str, ...]:
        """Nodes kept FP32 after the last step."""
        return self.steps[-1].fp32_layers if self.steps else ()


def measure_sensitivity(layers: Sequence[Layer],
                        similarity_with_only: Callable[[Layer], float]) -> list[LayerSensitivity]:
    """Measure each layer alone; ``similarity_with_only(layer)`` quantizes and measures.

    Returns the sensitivities in the order of ``layers``.
    """
    results = []
    for layer in layers:
        similarity = similarity_with_only(layer)
        logger.debug("Sensitivity of %s (%s): similarity %.6f with only it quantized",
                     layer.node, layer.op_type, similarity)
        results.append(LayerSensitivity(layer.node, layer.op_type, similarity))
    return results


def fallback_order(sensitivities: Sequence[LayerSensitivity]) -> list[LayerSensitivity]:
    """Return the layers most sensitive first; ties keep their original (graph) order."""
    return sorted(sensitivities, key=lambda item: item.similarity)


def run_partial_fallback(sensitivities: Sequence[LayerSensitivity], *,
                         quantize_excluding: Callable[[tuple[str, ...]], Any],
                         measure: Callable[[Any], tuple[Any, float]],
                         judge: Callable[[float], GuardDecision],
                         max_layers: int) -> PartialFallback:
    """Keep the most sensitive layers FP32, one more per step, until ``judge`` passes.

    ``quantize_excluding(fp32_nodes)`` returns a candidate with those nodes kept FP32, and
    ``measure(candidate)`` returns ``(measurement, min_similarity)``. At most ``max_layers``
    layers, and never every layer, are kept FP32: a model without any quantized layer is not
    an INT8 model.
    """
    limit = min(max_layers, len(sensitivities) - 1)
    steps: list[FallbackStep] = []
    candidate = measurement = None
    fp32_layers: tuple[str, ...] = ()
    for layer in fallback_order(sensitivities)[:max(limit, 0)]:
        fp32_layers = (*fp32_layers, layer.node)
        candidate = quantize_excluding(fp32_layers)
        measurement, similarity = measure(candidate)
        decision = judge(similarity)
        steps.append(FallbackStep(layer.node, fp32_layers, similarity, decision.verdict))
        logger.info("Partial fallback: %s kept FP32 (%d of at most %d), similarity %.6f, "
                    "verdict %s", layer.node, len(fp32_layers), limit, similarity,
                    decision.verdict)
        if decision.passed:
            return PartialFallback(tuple(steps), True, candidate, measurement)
    return PartialFallback(tuple(steps), False, candidate, measurement)


def plot_sensitivity(sensitivities: Sequence[LayerSensitivity], path: str | os.PathLike, *,
                     fallback_threshold: float, warn_threshold: float,
                     fp32_layers: Sequence[str] = ()) -> Path:
    """Write a PNG bar chart of each layer's sensitivity and return the path.

    Bar height is ``1 - similarity`` on a log scale (floored at ``1e-7``), so the tallest bar
    is the layer that costs the most. The guard thresholds are drawn as ``1 - threshold``, and
    layers kept FP32 by partial fallback in a second colour. Needs matplotlib (the ``plot``
    extra).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise InvalidInputError("Plotting sensitivity needs matplotlib; install it with "
                                "pip install 'alice-gl[plot]'.") from error
    if not sensitivities:
        raise InvalidInputError("No layer sensitivities to plot: the model has no quantized "
                                "layer.")

    floor = 1e-7
    names = [item.node for item in sensitivities]
    heights = [max(item.sensitivity, floor) for item in sensitivities]
    colours = ["tab:orange" if item.node in fp32_layers else "tab:blue" for item in sensitivities]
    # Figure and FigureCanvasAgg avoid pyplot, whose global state is not thread-safe.
    figure = Figure(figsize=(max(6.0, 0.4 * len(names) + 2.0), 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(range(len(names)), heights, color=colours)
    axes.set_yscale("log")
    axes.axhline(max(1.0 - warn_threshold, floor), color="tab:green", linestyle="--",
                 label=f"warn below similarity {warn_threshold:g}")
    axes.axhline(max(1.0 - fallback_threshold, floor), color="tab:red", linestyle="--",
                 label=f"fail below similarity {fallback_threshold:g}")
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("1 - min output cosine, only this layer INT8")
    axes.set_title("Per-layer quantization sensitivity (orange: kept FP32)")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    target = Path(os.fspath(path))
    figure.savefig(target, format="png", dpi=100)
    return target
