"""The engine's accuracy guard on models built to land in each band, and partial fallback.

Each band model's INT8 similarity is first measured with onnxruntime as an independent oracle,
so a change in the quantizer that moves a model out of its band fails here with that number.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from engine_models import (
    FEATURES,
    collapsing_layer_model,
    outlier_inputs,
    single_matmul_model,
)

from alice_gl.engine import AliceQuantizationEngine, QuantizationConfig
from alice_gl.engine.guard import Verdict
from alice_gl.errors import AccuracyError
from alice_gl.quantization import quantize_dynamic

# Outlier size per band; the oracle check below confirms the band.
BANDS = {"ok": 40.0, "warn": 140.0, "fail": 300.0}
SAMPLES = 64


def oracle_min_cosine(fp32: onnx.ModelProto, int8: onnx.ModelProto, inputs: np.ndarray) -> float:
    """Return the minimum per-sample cosine of onnxruntime's FP32 and INT8 outputs."""
    options = {"providers": ["CPUExecutionProvider"]}
    sessions = [ort.InferenceSession(model.SerializeToString(), **options)
                for model in (fp32, int8)]
    cosines = []
    for row in inputs:
        reference, candidate = (session.run(None, {"x": row[None]})[0].ravel().astype(float)
                                for session in sessions)
        cosines.append(reference @ candidate
                       / (np.linalg.norm(reference) * np.linalg.norm(candidate)))
    return float(min(cosines))


def band_case(band: str) -> tuple[onnx.ModelProto, np.ndarray]:
    rng = np.random.default_rng(7)
    return single_matmul_model(rng), outlier_inputs(rng, SAMPLES, BANDS[band])


def engine_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.WARNING and record.name.startswith("alice_gl")]


# Band limits with a margin of 0.003 from the thresholds 0.95 and 0.98.
@pytest.mark.parametrize(("band", "low", "high"), [
    ("ok", 0.983, 1.0), ("warn", 0.953, 0.977), ("fail", -1.0, 0.947),
])
def test_band_models_land_in_their_band(band, low, high):
    model, inputs = band_case(band)
    similarity = oracle_min_cosine(model, quantize_dynamic(model)[0], inputs)
    assert low <= similarity <= high, f"{band}: oracle similarity {similarity}"


@pytest.mark.parametrize(("band", "verdict", "mode", "warns"), [
    ("ok", Verdict.OK, "int8", False),
    ("warn", Verdict.WARN, "int8", True),
    ("fail", Verdict.FAIL, "fp32", True),
])
def test_verdict_log_and_served_mode(band, verdict, mode, warns, caplog):
    model, inputs = band_case(band)
    with AliceQuantizationEngine(QuantizationConfig()) as engine:
        with caplog.at_level(logging.WARNING, logger="alice_gl"):
            result = engine.quantize(model, {"x": inputs})
        status = engine.get_status()
        served = engine.infer({"x": inputs[:4]})["y"]

    assert result.verdict is verdict
    assert result.success is True
    assert result.served_mode == mode
    assert status.mode == mode
    assert status.verdict == verdict.value
    assert status.similarity == result.min_similarity
    assert status.backend == "gl-fragment"  # the default "auto" backend on a machine with GL
    assert bool(engine_warnings(caplog)) is warns
    assert result.evaluation_samples == SAMPLES
    assert result.similarity["y"].samples == SAMPLES
    oracle = oracle_min_cosine(model, result.model, inputs)
    assert result.min_similarity == pytest.approx(oracle, abs=2e-3)

    expected = inputs[:4] @ onnx.numpy_helper.to_array(model.graph.initializer[0])
    if mode == "fp32":
        np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-4)
    else:
        assert not np.allclose(served, expected, rtol=1e-5, atol=1e-4)


def test_fail_warning_names_fp32_fallback(caplog):
    model, inputs = band_case("fail")
    with AliceQuantizationEngine({}) as engine, caplog.at_level(logging.WARNING):
        result = engine.quantize(model, {"x": inputs})
        status = engine.get_status()
    warnings = engine_warnings(caplog)
    assert len(warnings) == 1
    assert "serving the FP32 model" in warnings[0]
    assert result.error is None
    assert "similarity too low" in status.reason
    assert "FP32" in status.reason


def test_fail_without_auto_fallback_is_unsuccessful(caplog):
    model, inputs = band_case("fail")
    config = QuantizationConfig(enable_auto_fallback=False)
    with AliceQuantizationEngine(config) as engine, caplog.at_level(logging.WARNING):
        result = engine.quantize(model, {"x": inputs})
        status = engine.get_status()
        with pytest.raises(AccuracyError, match=r"No model is served: similarity too low"):
            engine.infer({"x": inputs[:1]})

    assert result.success is False
    assert result.served_mode == "none"
    assert result.error == f"similarity too low ({result.min_similarity:.2f} < 0.95)"
    assert status.mode is None
    assert status.verdict == "fail"
    assert len(engine_warnings(caplog)) == 1
    with pytest.raises(AccuracyError, match=r"similarity too low \(0\.\d\d < 0\.95\)"):
        result.raise_for_failure()


def test_custom_thresholds_move_the_verdict():
    model, inputs = band_case("warn")
    config = QuantizationConfig(fallback_threshold=0.5, warn_threshold=0.9)
    with AliceQuantizationEngine(config) as engine:
        result = engine.quantize(model, {"x": inputs})
    assert result.verdict is Verdict.OK


def collapse_case() -> tuple[onnx.ModelProto, np.ndarray]:
    rng = np.random.default_rng(11)
    model = collapsing_layer_model(rng)
    return model, rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)


def test_partial_fallback_rescues_collapsing_layer(caplog):
    model, inputs = collapse_case()
    full_int8 = quantize_dynamic(model)[0]
    assert oracle_min_cosine(model, full_int8, inputs) < 0.9

    with AliceQuantizationEngine() as engine:
        engine.initialize()
        with caplog.at_level(logging.WARNING):
            result = engine.quantize(model, {"x": inputs})
        status = engine.get_status()

    assert result.initial_similarity < 0.9
    assert result.fp32_layers == ("fc2",)
    assert result.verdict is Verdict.OK
    assert result.served_mode == "int8"
    assert status.fp32_layers == ("fc2",)
    assert [step.node for step in result.fallback_steps] == ["fc2"]
    assert result.fallback_steps[0].similarity == result.min_similarity
    assert {layer.node: layer.quantized for layer in result.layers} == {
        "fc1": True, "fc2": False, "fc3": True}
    sensitivity = {item.node: item.similarity for item in result.sensitivity}
    assert sensitivity["fc2"] < 0.9
    assert min(sensitivity["fc1"], sensitivity["fc3"]) > 0.99
    assert any("fc2" in message for message in engine_warnings(caplog))
    assert oracle_min_cosine(model, result.model, inputs) >= 0.98
    op_types = [node.op_type for node in result.model.graph.node]
    assert op_types.count("MatMulInteger") == 2
    assert op_types.count("MatMul") == 1


def test_partial_fallback_off_serves_fp32():
    model, inputs = collapse_case()
    config = QuantizationConfig(partial_fallback=False)
    with AliceQuantizationEngine(config) as engine:
        result = engine.quantize(model, {"x": inputs})
    assert result.served_mode == "fp32"
    assert result.fp32_layers == ()
    assert result.fallback_steps == ()
    assert result.sensitivity == ()


def test_partial_fallback_without_auto_fallback_does_not_run():
    model, inputs = collapse_case()
    config = QuantizationConfig(enable_auto_fallback=False)
    with AliceQuantizationEngine(config) as engine:
        result = engine.quantize(model, {"x": inputs})
    assert result.success is False
    assert result.fallback_steps == ()


# With 3 layers at most 2 stay FP32: a model without an INT8 layer is not an INT8 model.
@pytest.mark.parametrize(("max_layers", "expected_steps"), [(1, 1), (5, 2)])
def test_partial_fallback_stops_at_layer_limit(max_layers, expected_steps):
    model, inputs = collapse_case()
    # Any INT8 layer costs more than 1e-6 of similarity here, so every step fails.
    config = QuantizationConfig(fallback_threshold=0.999999, warn_threshold=0.999999,
                                max_fallback_layers=max_layers)
    with AliceQuantizationEngine(config) as engine:
        result = engine.quantize(model, {"x": inputs})
    steps = result.fallback_steps
    assert len(steps) == expected_steps
    assert steps[0].node == "fc2"
    assert steps[-1].fp32_layers == ("fc2", *(step.node for step in steps[1:]))
    assert all(step.verdict is Verdict.FAIL for step in steps)
    assert result.served_mode == "fp32"
    assert result.fp32_layers == steps[-1].fp32_layers


def test_sensitivity_on_request_when_guard_passes():
    model, inputs = band_case("ok")
    with AliceQuantizationEngine({}) as engine:
        result = engine.quantize(model, {"x": inputs}, with_sensitivity=True)
    assert [item.node for item in result.sensitivity] == ["matmul"]
    assert result.sensitivity[0].similarity == pytest.approx(result.min_similarity)
    assert result.layers[0].similarity_alone == result.sensitivity[0].similarity


def test_validation_data_is_used_for_similarity():
    model, calibration = band_case("fail")
    validation = outlier_inputs(np.random.default_rng(3), 10, BANDS["ok"])
    with AliceQuantizationEngine({}) as engine:
        result = engine.quantize(model, {"x": calibration}, validation={"x": validation})
    assert result.evaluation_samples == 10
    assert result.verdict is Verdict.OK


def test_calibration_samples_caps_evaluation():
    model, inputs = band_case("ok")
    with AliceQuantizationEngine({"calibrationSamples": 5}) as engine:
        result = engine.quantize(model, {"x": inputs})
    assert result.evaluation_samples == 5
