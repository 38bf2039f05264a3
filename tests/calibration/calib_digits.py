"""Digits data and the onnxruntime reference for the calibration tests.

Calibration uses the first ``CALIBRATION_SAMPLES`` training samples of scikit-learn's digits,
split exactly as ``scripts/build_models.py`` splits them (75/25, stratified, random_state 0,
pixels / 16), so no test sample is seen during calibration. Scores use the bundled test split.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnxruntime import quantization as ort_quantization
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from alice_gl.resources import data_path

CALIBRATION_SAMPLES = 200
SPLIT_SEED = 0
TEST_FRACTION = 0.25
PIXEL_MAX = 16.0
# Bundled model name -> key of its inputs in the test split.
MODELS = {"mlp_digits": "x", "cnn_digits": "x_image"}
ORT_METHODS = {
    "minmax": ort_quantization.CalibrationMethod.MinMax,
    "percentile": ort_quantization.CalibrationMethod.Percentile,
    "kl": ort_quantization.CalibrationMethod.Entropy,
}
QUANTIZED_OP_TYPES = ["MatMul", "Gemm", "Conv", "ConvTranspose"]


@dataclass(frozen=True)
class Score:
    """Mean cosine similarity of the INT8 outputs to FP32, and top-1 accuracy on the test split."""

    cosine: float
    accuracy: float


def calibration_inputs(model_name: str) -> np.ndarray:
    """Return the first training samples, shaped for ``model_name``'s input."""
    digits = load_digits()
    x = (digits.data / PIXEL_MAX).astype(np.float32)
    x_train, _, _, _ = train_test_split(x, digits.target, test_size=TEST_FRACTION,
                                        random_state=SPLIT_SEED, stratify=digits.target)
    samples = x_train[:CALIBRATION_SAMPLES]
    return samples.reshape(-1, 1, 8, 8) if MODELS[model_name] == "x_image" else samples


def digits_test_split(model_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the bundled test inputs for ``model_name`` and their labels."""
    with np.load(data_path("digits_test.npz")) as split:
        return split[MODELS[model_name]], split["y"]


def score(model: onnx.ModelProto | str, reference: np.ndarray, inputs: np.ndarray,
          labels: np.ndarray) -> Score:
    """Run ``model`` in onnxruntime and score its first output against ``reference``."""
    serialized = model if isinstance(model, str) else model.SerializeToString()
    session = onnxruntime.InferenceSession(serialized, providers=["CPUExecutionProvider"])
    output = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    cosine = np.sum(output * reference, axis=1) / (
        np.linalg.norm(output, axis=1) * np.linalg.norm(reference, axis=1))
    return Score(cosine=float(np.mean(cosine)),
                 accuracy=float(np.mean(output.argmax(axis=1) == labels)))


def fp32_outputs(model_name: str, inputs: np.ndarray) -> np.ndarray:
    """Return the FP32 model's first output on ``inputs`` from onnxruntime."""
    path = str(data_path(f"{model_name}.onnx"))
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


class _Reader(ort_quantization.CalibrationDataReader):
    """Feeds equal batches: onnxruntime's percentile collector stacks them into one array."""

    def __init__(self, name: str, samples: np.ndarray, batch_size: int = 50) -> None:
        self._batches = iter([{name: samples[i:i + batch_size]}
                              for i in range(0, len(samples), batch_size)])

    def get_next(self):
        return next(self._batches, None)


def ort_quantize_static(model_name: str, strategy: str, samples: np.ndarray) -> onnx.ModelProto:
    """Return onnxruntime's static QDQ model calibrated with the calibrator matching ``strategy``.

    Settings match ours: uint8 activations, per-channel int8 weights, the same op types.
    """
    path = str(data_path(f"{model_name}.onnx"))
    input_name = onnx.load(path).graph.input[0].name
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "model_int8.onnx"
        ort_quantization.quantize_static(
            path, str(output), _Reader(input_name, samples),
            quant_format=ort_quantization.QuantFormat.QDQ,
            activation_type=ort_quantization.QuantType.QUInt8,
            weight_type=ort_quantization.QuantType.QInt8, per_channel=True,
            op_types_to_quantize=QUANTIZED_OP_TYPES,
            calibrate_method=ORT_METHODS[strategy])
        return onnx.load(str(output))
