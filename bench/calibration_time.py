"""Calibration time and accuracy on the bundled models: alice_gl vs onnxruntime, side by side.

For each bundled model and strategy, both quantizers run end to end (load, calibrate, write
the QDQ model) on the same calibration samples: the first N training samples of
scikit-learn's digits, split as ``scripts/build_models.py`` splits them (75/25, stratified,
random_state 0). onnxruntime gets the matching calibrator (MinMax, Percentile, Entropy) with
uint8 activations, per-channel int8 weights and the same op types; it has no MSE calibrator.
Accuracy and cosine are measured on the bundled test split, the cosine per sample against the
FP32 output and then averaged. Times are the best of ``--repeats`` runs, in milliseconds.

Usage: python bench/calibration_time.py [--quick] [--samples N] [--json PATH]
Needs the test extra (onnxruntime, scikit-learn).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnxruntime import quantization as ort_quantization
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from alice_gl.calibration import STRATEGIES, quantize_static
from alice_gl.resources import data_path

MODELS = {"mlp_digits": "x", "cnn_digits": "x_image"}  # model -> test split key
ORT_METHODS = {
    "minmax": ort_quantization.CalibrationMethod.MinMax,
    "percentile": ort_quantization.CalibrationMethod.Percentile,
    "kl": ort_quantization.CalibrationMethod.Entropy,
}
QUANTIZED_OP_TYPES = ["MatMul", "Gemm", "Conv", "ConvTranspose"]
DEFAULT_SAMPLES = 200
# onnxruntime's percentile collector stacks batches into one array, so they must be equal.
ORT_BATCH_SIZE = 50


def calibration_samples(model_name: str, count: int) -> np.ndarray:
    """Return the first ``count`` digits training samples shaped for ``model_name``."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, _, _, _ = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                        stratify=digits.target)
    samples = x_train[:count]
    return samples.reshape(-1, 1, 8, 8) if MODELS[model_name] == "x_image" else samples


class _Reader(ort_quantization.CalibrationDataReader):
    def __init__(self, name: str, samples: np.ndarray) -> None:
        self._batches = iter([{name: samples[i:i + ORT_BATCH_SIZE]}
                              for i in range(0, len(samples), ORT_BATCH_SIZE)])

    def get_next(self):
        return next(self._batches, None)


def run_ours(path: str, samples: np.ndarray, strategy: str, folder: Path) -> bytes:
    model, _ = quantize_static(path, samples, strategy=strategy, progress=False)
    output = folder / "ours.onnx"
    onnx.save(model, str(output))
    return output.read_bytes()


def run_onnxruntime(path: str, samples: np.ndarray, strategy: str, folder: Path) -> bytes:
    output = folder / "onnxruntime.onnx"
    input_name = onnx.load(path).graph.input[0].name
    # onnxruntime's calibrators print progress to stdout; keep the table readable.
    with contextlib.redirect_stdout(io.StringIO()):
        _ort_quantize(path, output, input_name, samples, strategy)
    return output.read_bytes()


def _ort_quantize(path: str, output: Path, input_name: str, samples: np.ndarray,
                  strategy: str) -> None:
    ort_quantization.quantize_static(
        path, str(output), _Reader(input_name, samples),
        quant_format=ort_quantization.QuantFormat.QDQ,
        activation_type=ort_quantization.QuantType.QUInt8,
        weight_type=ort_quantization.QuantType.QInt8, per_channel=True,
        op_types_to_quantize=QUANTIZED_OP_TYPES, calibrate_method=ORT_METHODS[strategy])


def evaluate(model: bytes | str, inputs: np.ndarray, labels: np.ndarray,
             reference: np.ndarray | None) -> dict:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    output = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    result = {"accuracy": float(np.mean(output.argmax(axis=1) == labels)), "output": output}
    if reference is not None:
        cosine = np.sum(output * reference, axis=1) / (
            np.linalg.norm(output, axis=1) * np.linalg.norm(reference, axis=1))
        result["cosine"] = float(np.mean(cosine))
    return result


def timed(function, repeats: int, *args) -> tuple[float, bytes]:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best * 1000.0, result


def measure(model_name: str, strategy: str, samples: np.ndarray, repeats: int) -> dict:
    path = str(data_path(f"{model_name}.onnx"))
    with np.load(data_path("digits_test.npz")) as split:
        inputs, labels = split[MODELS[model_name]], split["y"]
    fp32 = evaluate(path, inputs, labels, None)
    row = {"model": model_name, "strategy": strategy, "samples": len(samples),
           "fp32_accuracy": fp32["accuracy"]}
    with tempfile.TemporaryDirectory() as folder:
        runners = {"ours": run_ours}
        if strategy in ORT_METHODS:
            runners["onnxruntime"] = run_onnxruntime
        for label, runner in runners.items():
            time_ms, model = timed(runner, repeats, path, samples, strategy, Path(folder))
            scores = evaluate(model, inputs, labels, fp32["output"])
            row[f"{label}_ms"] = time_ms
            row[f"{label}_cosine"] = scores["cosine"]
            row[f"{label}_accuracy"] = scores["accuracy"]
    return row


def format_table(rows: list[dict]) -> str:
    header = ("| model | strategy | ours ms | onnxruntime ms | ours cosine | onnxruntime cosine "
              "| ours top-1 | onnxruntime top-1 | FP32 top-1 |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        def cell(key: str, spec: str, row: dict = row) -> str:
            return format(row[key], spec) if key in row else "n/a"
        lines.append(
            f"| {row['model']} | {row['strategy']} | {cell('ours_ms', '.0f')} "
            f"| {cell('onnxruntime_ms', '.0f')} | {cell('ours_cosine', '.6f')} "
            f"| {cell('onnxruntime_cosine', '.6f')} | {cell('ours_accuracy', '.4f')} "
            f"| {cell('onnxruntime_accuracy', '.4f')} | {row['fp32_accuracy']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one timed run per cell instead of --repeats")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per cell; the best is reported (default 3)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help=f"calibration samples (default {DEFAULT_SAMPLES}, at most 1347)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this path")
    args = parser.parse_args()
    # onnxruntime logs a pre-processing advice on every run through the root logger at
    # WARNING; only errors are shown so the table stays readable.
    logging.basicConfig(level=logging.ERROR)

    repeats = 1 if args.quick else args.repeats
    rows = []
    for model_name in MODELS:
        samples = calibration_samples(model_name, args.samples)
        for strategy in STRATEGIES:
            rows.append(measure(model_name, strategy, samples, repeats))
    print(format_table(rows))
    print(f"\n{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"onnxruntime {onnxruntime.__version__}, best of {repeats} run(s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
