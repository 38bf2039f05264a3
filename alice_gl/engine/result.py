"""``QuantizationResult``: what ``AliceQuantizationEngine.quantize`` returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import onnx

from alice_gl.engine.guard import Verdict
from alice_gl.engine.sensitivity import FallbackStep, LayerSensitivity
from alice_gl.engine.similarity import OutputSimilarity
from alice_gl.errors import AccuracyError


@dataclass(frozen=True)
class LayerReport:
    """One quantizable node: whether the returned model quantizes it, and how sensitive it is.

    ``similarity_alone`` is the minimum output cosine with only this node quantized, or None
    when sensitivity was not measured.
    """

    node: str
    op_type: str
    quantized: bool
    similarity_alone: float | None = None


@dataclass(frozen=True)
class QuantizationResult:
    """Outcome of quantizing one model, judged by the accuracy guard.

    ``model`` is the INT8 model that the guard judged last, with the nodes in ``fp32_layers``
    kept FP32. ``served_mode`` is ``int8`` when the engine serves that model, ``fp32`` when it
    fell back to the original model, and ``none`` when the guard failed with automatic fallback
    off. ``success`` is False only in that last case, and ``error`` then reads like
    ``similarity too low (0.92 < 0.95)``.

    ``similarity`` maps each output name to its comparison with FP32 over the evaluation
    samples, for ``model``. ``min_similarity`` (what the guard judges) and ``mean_similarity``
    summarize it over outputs. ``initial_similarity`` is the minimum for the model with every
    layer quantized, before any partial fallback. Sizes are serialized protobuf bytes.
    """

    success: bool
    model: onnx.ModelProto
    served_mode: str
    verdict: Verdict
    min_similarity: float
    mean_similarity: float
    similarity: dict[str, OutputSimilarity]
    initial_similarity: float
    evaluation_samples: int
    fp32_bytes: int
    int8_bytes: int
    compression_ratio: float
    fp32_layers: tuple[str, ...] = ()
    fallback_steps: tuple[FallbackStep, ...] = ()
    layers: tuple[LayerReport, ...] = ()
    sensitivity: tuple[LayerSensitivity, ...] = ()
    messages: tuple[str, ...] = ()
    error: str | None = None
    quantization_report: Any = field(default=None, repr=False)

    def raise_for_failure(self) -> None:
        """Raise ``AccuracyError`` with ``error`` when ``success`` is False."""
        if not self.success:
            raise AccuracyError(self.error or "quantization failed the accuracy guard")

    def to_dict(self) -> dict[str, Any]:
        """Return every field but the models as a JSON-ready dict."""
        report = self.quantization_report
        return {
            "success": self.success,
            "served_mode": self.served_mode,
            "verdict": self.verdict.value,
            "min_similarity": _json_float(self.min_similarity),
            "mean_similarity": _json_float(self.mean_similarity),
            "initial_similarity": _json_float(self.initial_similarity),
            "evaluation_samples": self.evaluation_samples,
            "similarity": {name: item.to_dict() for name, item in self.similarity.items()},
            "fp32_bytes": self.fp32_bytes,
            "int8_bytes": self.int8_bytes,
            "compression_ratio": self.compression_ratio,
            "fp32_layers": list(self.fp32_layers),
            "fallback_steps": [step.to_dict() for step in self.fallback_steps],
            "layers": [layer.__dict__.copy() for layer in self.layers],
            "sensitivity": [item.to_dict() for item in self.sensitivity],
            "messages": list(self.messages),
            "error": self.error,
            "quantization_report": report.to_dict() if hasattr(report, "to_dict") else None,
        }


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)
