"""The ``alice-gl demo`` subcommand: the engine's whole job on a bundled model.

The demo quantizes a bundled FP32 model in dynamic mode and lets the accuracy guard judge it
on the model's test split. It then runs the whole split through ``engine.infer`` on the
backend the engine picked, and prints sizes, similarity and top-1 accuracy FP32 against INT8
as a table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from alice_gl.bundled import DEFAULT_MODEL, BundledModel, bundled_names, load_bundled
from alice_gl.engine import AliceQuantizationEngine, QuantizationConfig, QuantizationResult
from alice_gl.engine.config import BACKENDS
from alice_gl.executor import NumpySession

# Samples per engine.infer call. Fixed batches keep the texture memory that a GL backend plans
# for one run independent of the size of the test split.
INFER_BATCH = 64


@dataclass(frozen=True)
class DemoReport:
    """Figures of one demo run. Accuracies are top-1 fractions on the test split."""

    model: str
    samples: int
    result: QuantizationResult
    fp32_accuracy: float
    served_accuracy: float
    served_mode: str | None
    backend: str | None
    gl_renderer: str | None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "demo", help="quantize a bundled model, check it and run its test split",
        description="Quantize a bundled FP32 model to INT8 (dynamic mode), check it with the "
                    "accuracy guard on the model's test split, run the split through the "
                    "engine, and print sizes, cosine similarity and top-1 accuracy FP32 "
                    "against INT8.")
    parser.add_argument("--model", choices=bundled_names(), default=DEFAULT_MODEL,
                        help=f"bundled model (default {DEFAULT_MODEL})")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="executor that serves the INT8 model: auto tries GL and falls "
                             "back to NumPy (default auto)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl demo`` and return its exit code."""
    report = run_demo(args.model, args.backend)
    print(format_report(report))
    return 0


def run_demo(model_name: str = DEFAULT_MODEL, backend: str = "auto") -> DemoReport:
    """Quantize the bundled model ``model_name`` through the engine and measure it.

    The guard measures similarity on the whole test split. The FP32 accuracy comes from the
    FP32 model on the NumPy executor, the served accuracy from ``engine.infer``.
    """
    bundled = load_bundled(model_name)
    # Compute passes exist only under the gl43 profile; every other backend keeps the default.
    profile = "gl43" if backend == "gl-compute" else QuantizationConfig().profile
    config = QuantizationConfig(mode="dynamic", backend=backend, profile=profile)

    with AliceQuantizationEngine(config) as engine:
        result = engine.quantize(bundled.model_path, None,
                                 validation={bundled.input_name: bundled.test_inputs})
        served_scores = _infer_scores(engine, bundled)
        status = engine.get_status()

    fp32_scores = NumpySession(bundled.model_path).run(
        {bundled.input_name: bundled.test_inputs})[bundled.score_output]
    return DemoReport(
        model=model_name,
        samples=len(bundled.test_labels),
        result=result,
        fp32_accuracy=_top1(fp32_scores, bundled.test_labels),
        served_accuracy=_top1(served_scores, bundled.test_labels),
        served_mode=status.mode,
        backend=status.backend,
        gl_renderer=status.gl_renderer,
    )


def format_report(report: DemoReport) -> str:
    """Return the demo's figures as a two-column table, one figure per line."""
    result = report.result
    served = "INT8" if report.served_mode == "int8" else f"served ({report.served_mode})"
    drop_points = 100.0 * (report.fp32_accuracy - report.served_accuracy)
    rows = [
        ("Model", f"{report.model} (bundled), {report.samples} test samples"),
        ("FP32 size", _size(result.fp32_bytes)),
        ("INT8 size", _size(result.int8_bytes)),
        ("Compression", f"{result.compression_ratio:.2f}x"),
        ("Guard verdict", str(result.verdict)),
        ("Cosine similarity", f"min {result.min_similarity:.4f}, mean "
                              f"{result.mean_similarity:.4f}"),
    ]
    if result.fp32_layers:
        rows.append(("Kept FP32", ", ".join(result.fp32_layers)))
    rows += [
        ("Top-1 FP32", f"{100.0 * report.fp32_accuracy:.2f}% (NumPy executor)"),
        (f"Top-1 {served}", f"{100.0 * report.served_accuracy:.2f}% (engine.infer)"),
        ("Accuracy drop", f"{drop_points:.2f} points"),
        ("Backend", report.backend or "none"),
        ("GL renderer", report.gl_renderer or "none (not a GL backend)"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _infer_scores(engine: AliceQuantizationEngine, bundled: BundledModel) -> np.ndarray:
    batches = []
    for start in range(0, len(bundled.test_inputs), INFER_BATCH):
        feed = {bundled.input_name: bundled.test_inputs[start:start + INFER_BATCH]}
        batches.append(engine.infer(feed)[bundled.score_output])
    return np.concatenate(batches)


def _top1(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def _size(size_bytes: int) -> str:
    return f"{size_bytes:,} bytes ({size_bytes / 1024:.1f} KiB)"
