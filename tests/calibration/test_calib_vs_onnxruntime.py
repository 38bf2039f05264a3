"""Our static quantization against onnxruntime's ``quantize_static`` on the bundled models.

Both sides calibrate on the same 200 training samples (see ``calib_digits``) and write QDQ
models with uint8 activations and per-channel int8 weights on MatMul, Gemm, Conv and
ConvTranspose. Each shared strategy must score at least as well as onnxruntime's matching
calibrator (MinMax, Percentile, Entropy) on the test split.
"""

from __future__ import annotations

import numpy as np
import pytest
from calib_digits import (
    MODELS,
    ORT_METHODS,
    calibration_inputs,
    digits_test_split,
    fp32_outputs,
    ort_quantize_static,
    score,
)

from alice_gl.calibration import quantize_static
from alice_gl.executor import NumpySession
from alice_gl.resources import data_path

# Cosines of equally good models can differ in the last float32 digits.
COSINE_SLACK = 1e-6


@pytest.fixture(scope="module", params=sorted(MODELS))
def bundled(request):
    name = request.param
    inputs, labels = digits_test_split(name)
    return name, calibration_inputs(name), inputs, labels, fp32_outputs(name, inputs)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(ORT_METHODS))
def test_calib_not_worse_than_onnxruntime(bundled, strategy):
    name, calibration, inputs, labels, reference = bundled
    ours, _ = quantize_static(str(data_path(f"{name}.onnx")), calibration, strategy=strategy,
                              progress=False)
    theirs = ort_quantize_static(name, strategy, calibration)
    our_score = score(ours, reference, inputs, labels)
    their_score = score(theirs, reference, inputs, labels)
    assert our_score.cosine >= their_score.cosine - COSINE_SLACK, (our_score, their_score)
    assert our_score.accuracy >= their_score.accuracy, (our_score, their_score)


@pytest.mark.slow
def test_calib_mse_on_bundled_model(bundled):
    name, calibration, inputs, labels, reference = bundled
    model, report = quantize_static(str(data_path(f"{name}.onnx")), calibration,
                                    strategy="mse", progress=False)
    result = score(model, reference, inputs, labels)
    fp32 = score(str(data_path(f"{name}.onnx")), reference, inputs, labels)
    assert result.cosine > 0.999
    assert result.accuracy >= fp32.accuracy - 0.005
    assert report.calibration_samples == len(calibration)


@pytest.mark.slow
def test_calib_bundled_model_in_numpy_executor(bundled):
    name, calibration, inputs, _, _ = bundled
    model, _ = quantize_static(str(data_path(f"{name}.onnx")), calibration, strategy="kl",
                               progress=False)
    session = NumpySession(model)
    from_numpy = session.run({session.input_names[0]: inputs})[session.output_names[0]]
    # Scoring the onnxruntime run against the NumPy run: same outputs, same predictions.
    agreement = score(model, from_numpy, inputs, np.argmax(from_numpy, axis=1))
    assert agreement.cosine > 0.99999
    assert agreement.accuracy == 1.0
