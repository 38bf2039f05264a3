"""The bundled digits models: INT8 accuracy and size against FP32 on the held-out test split."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from quant_model_builders import run_onnxruntime

from alice_gl.bundled import bundled_names, load_bundled
from alice_gl.model_io import save_model
from alice_gl.quantization import quantize_dynamic

MIN_COSINE = 0.999
MAX_TOP1_DROP_POINTS = 0.5
MAX_SIZE_RATIO = 0.27


def _scores(model: onnx.ModelProto, bundled) -> np.ndarray:
    names = [output.name for output in model.graph.output]
    outputs = run_onnxruntime(model, {bundled.input_name: bundled.test_inputs})
    return outputs[names.index(bundled.score_output)]


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64).reshape(len(a), -1)
    b = b.astype(np.float64).reshape(len(b), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_bundled_model_int8_accuracy(name, tmp_path):
    assert name in bundled_names()
    bundled = load_bundled(name)
    fp32 = onnx.load(str(bundled.model_path))
    quantized, report = quantize_dynamic(bundled.model_path)
    onnx.checker.check_model(quantized, full_check=True)
    assert report.quantized_nodes

    fp32_scores = _scores(fp32, bundled)
    int8_scores = _scores(quantized, bundled)
    cosines = _row_cosines(int8_scores, fp32_scores)
    assert cosines.mean() >= MIN_COSINE

    fp32_top1 = float((fp32_scores.argmax(1) == bundled.test_labels).mean())
    int8_top1 = float((int8_scores.argmax(1) == bundled.test_labels).mean())
    assert fp32_top1 == pytest.approx(bundled.fp32_test_accuracy)
    assert (fp32_top1 - int8_top1) * 100 <= MAX_TOP1_DROP_POINTS


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_bundled_model_int8_file_size(name, tmp_path):
    bundled = load_bundled(name)
    quantized, report = quantize_dynamic(bundled.model_path)
    written = save_model(quantized, tmp_path / f"{name}_int8.onnx")
    fp32_file_bytes = bundled.model_path.stat().st_size
    assert report.int8_bytes == written.stat().st_size
    assert written.stat().st_size <= MAX_SIZE_RATIO * fp32_file_bytes
