"""AliceQuantizationEngine lifecycle, threads, backends, the bundled model and static mode."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from engine_models import outlier_inputs, single_matmul_model, two_output_model

import alice_gl
from alice_gl.engine import backends
from alice_gl.engine.guard import Verdict
from alice_gl.errors import ConfigError, EngineStateError, GLContextError, InvalidInputError
from alice_gl.resources import data_path


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    with np.load(data_path("digits_test.npz")) as data:
        return {"x": data["x"], "y": data["y"]}


@pytest.fixture(scope="module")
def mlp_engine(digits):
    engine = alice_gl.AliceQuantizationEngine(alice_gl.DEFAULT_QUANTIZATION_CONFIG)
    result = engine.quantize(data_path("mlp_digits.onnx"), {"input": digits["x"][:200]})
    yield engine, result
    engine.close()


def test_package_exports_engine_api():
    assert alice_gl.QuantizationConfig.__name__ == "QuantizationConfig"
    assert alice_gl.QuantizationResult.__name__ == "QuantizationResult"
    assert isinstance(alice_gl.DEFAULT_QUANTIZATION_CONFIG, alice_gl.QuantizationConfig)
    with pytest.raises(AttributeError, match="no attribute 'Engine'"):
        alice_gl.Engine  # noqa: B018


def test_import_alice_gl_stays_light():
    code = ("import sys, alice_gl; heavy = [m for m in ('onnx', 'numpy', 'alice_gl.engine') "
            "if m in sys.modules]; print(heavy)")
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout
    assert output.strip() == "[]"


def test_bundled_mlp_passes_the_guard(mlp_engine, digits):
    engine, result = mlp_engine
    assert result.verdict is Verdict.OK
    assert result.served_mode == "int8"
    assert result.min_similarity >= 0.999
    assert result.compression_ratio > 3.0
    assert result.int8_bytes < result.fp32_bytes
    assert result.evaluation_samples == 200
    assert [layer.quantized for layer in result.layers] == [True] * len(result.layers)
    assert result.quantization_report.compression_ratio > 3.0

    outputs = engine.infer({"input": digits["x"]})
    probabilities = next(iter(outputs.values()))
    accuracy = float((probabilities.argmax(axis=1) == digits["y"]).mean())
    session = ort.InferenceSession(str(data_path("mlp_digits.onnx")),
                                   providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": digits["x"]})[0]
    reference_accuracy = float((reference.argmax(axis=1) == digits["y"]).mean())
    assert accuracy >= reference_accuracy - 0.01


def test_result_to_dict_is_json_ready(mlp_engine):
    import json

    _, result = mlp_engine
    data = json.loads(json.dumps(result.to_dict()))
    assert data["verdict"] == "ok"
    assert data["served_mode"] == "int8"
    assert data["quantization_report"]["quantized_node_count"] == len(result.layers)


def test_infer_from_8_threads_matches_one_thread(mlp_engine, digits):
    engine, _ = mlp_engine
    batches = [digits["x"][index:index + 7] for index in range(0, 224, 7)]
    expected = [engine.infer({"input": batch}) for batch in batches]
    start = threading.Barrier(8)

    def infer_all(offset: int) -> list[dict[str, np.ndarray]]:
        start.wait()
        order = batches[offset:] + batches[:offset]
        results = [engine.infer({"input": batch}) for batch in order]
        return results[-offset:] + results[:-offset] if offset else results

    with ThreadPoolExecutor(max_workers=8) as pool:
        per_thread = list(pool.map(infer_all, range(8)))
    for results in per_thread:
        for got, want in zip(results, expected, strict=True):
            assert got.keys() == want.keys()
            for name in want:
                np.testing.assert_array_equal(got[name], want[name])


def test_status_of_fresh_and_closed_engine():
    engine = alice_gl.AliceQuantizationEngine()
    status = engine.get_status()
    assert status.initialized is False
    assert status.mode is None
    engine.initialize({"backend": "numpy"})
    status = engine.get_status()
    assert status.initialized is True
    assert status.reason == "no model quantized yet"
    engine.close()
    engine.close()
    assert engine.get_status().closed is True
    assert engine.get_status().to_dict()["reason"] == "engine closed"


def test_calls_in_wrong_state_raise():
    engine = alice_gl.AliceQuantizationEngine()
    with pytest.raises(EngineStateError, match="call initialize"):
        engine.infer({"x": np.zeros((1, 4), np.float32)})
    engine.initialize()
    with pytest.raises(EngineStateError, match="call quantize"):
        engine.infer({"x": np.zeros((1, 4), np.float32)})
    engine.close()
    with pytest.raises(EngineStateError, match="closed"):
        engine.quantize(single_matmul_model(np.random.default_rng(0)), {"x": np.zeros((1, 64))})
    with pytest.raises(EngineStateError, match="closed"):
        engine.initialize()


def test_quantize_needs_samples():
    model = single_matmul_model(np.random.default_rng(0))
    with alice_gl.AliceQuantizationEngine({}) as engine, \
            pytest.raises(InvalidInputError, match="never on random inputs"):
        engine.quantize(model, None)


def test_static_mode_needs_calibration():
    model = single_matmul_model(np.random.default_rng(0))
    validation = outlier_inputs(np.random.default_rng(1), 4, 10.0)
    with alice_gl.AliceQuantizationEngine({"mode": "static"}) as engine, \
            pytest.raises(InvalidInputError, match="needs calibration samples"):
        engine.quantize(model, None, validation={"x": validation})


def test_dynamic_mode_takes_validation_only():
    model = single_matmul_model(np.random.default_rng(0))
    validation = outlier_inputs(np.random.default_rng(1), 4, 10.0)
    with alice_gl.AliceQuantizationEngine({}) as engine:
        result = engine.quantize(model, None, validation={"x": validation})
    assert result.evaluation_samples == 4


def test_invalid_config_type_is_rejected():
    with pytest.raises(ConfigError, match="expected a QuantizationConfig"):
        alice_gl.AliceQuantizationEngine(0.95)  # type: ignore[arg-type]


def test_reinitialize_drops_served_model():
    rng = np.random.default_rng(5)
    model, inputs = single_matmul_model(rng), outlier_inputs(rng, 8, 10.0)
    with alice_gl.AliceQuantizationEngine({}) as engine:
        engine.quantize(model, {"x": inputs})
        engine.initialize({"fallbackThreshold": 0.5, "warnThreshold": 0.6})
        assert engine.config.fallback_threshold == 0.5
        assert engine.get_status().mode is None
        with pytest.raises(EngineStateError):
            engine.infer({"x": inputs})


def test_infer_takes_one_array_for_single_input_model():
    rng = np.random.default_rng(5)
    model, inputs = single_matmul_model(rng), outlier_inputs(rng, 8, 10.0)
    with alice_gl.AliceQuantizationEngine({}) as engine:
        engine.quantize(model, inputs)
        by_array = engine.infer(inputs[:3])
        by_name = engine.infer({"x": inputs[:3]})
    np.testing.assert_array_equal(by_array["y"], by_name["y"])


def test_caller_model_is_not_modified():
    model = single_matmul_model(np.random.default_rng(5))
    before = model.SerializeToString()
    with alice_gl.AliceQuantizationEngine({}) as engine:
        engine.quantize(model, outlier_inputs(np.random.default_rng(6), 8, 10.0))
    assert model.SerializeToString() == before


def test_single_value_output_is_flagged():
    rng = np.random.default_rng(9)
    model, inputs = two_output_model(rng), rng.normal(size=(16, 64)).astype(np.float32)
    with alice_gl.AliceQuantizationEngine({}) as engine:
        result = engine.quantize(model, {"x": inputs})
    assert result.similarity["y"].cosine_meaningful is True
    score = result.similarity["score"]
    assert score.cosine_meaningful is False
    assert "across samples" in score.note
    assert score.relative_error < 0.05


def test_gl_context_error_falls_back_with_one_warning(monkeypatch, caplog):
    def no_context(model: onnx.ModelProto, config: alice_gl.QuantizationConfig):
        raise GLContextError("libEGL.so.1 not found")

    monkeypatch.setitem(backends.GL_BACKEND_FACTORIES, "gl-fragment", no_context)
    rng = np.random.default_rng(5)
    model, inputs = single_matmul_model(rng), outlier_inputs(rng, 8, 10.0)
    with alice_gl.AliceQuantizationEngine({"backend": "auto"}) as engine:
        with caplog.at_level(logging.WARNING):
            engine.quantize(model, {"x": inputs})
        assert engine.get_status().backend == "numpy"
        assert engine.infer({"x": inputs})["y"].shape == (8, 32)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "libEGL.so.1 not found" in warnings[0].getMessage()
    assert "NumPy" in warnings[0].getMessage()


def test_explicit_gl_backend_error_propagates(monkeypatch):
    def no_context(model: onnx.ModelProto, config: alice_gl.QuantizationConfig):
        raise GLContextError("no EGL display")

    monkeypatch.setitem(backends.GL_BACKEND_FACTORIES, "gl-fragment", no_context)
    rng = np.random.default_rng(5)
    model, inputs = single_matmul_model(rng), outlier_inputs(rng, 8, 10.0)
    with alice_gl.AliceQuantizationEngine({"backend": "gl-fragment"}) as engine:
        with pytest.raises(GLContextError, match="no EGL display"):
            engine.quantize(model, {"x": inputs})
        status = engine.get_status()
        with pytest.raises(EngineStateError, match="creating the gl-fragment backend failed"):
            engine.infer({"x": inputs})
    assert status.backend is None
    assert "creating the gl-fragment backend failed" in status.reason


def test_unavailable_gl_backend_is_a_config_error(monkeypatch):
    monkeypatch.delitem(backends.GL_BACKEND_FACTORIES, "gl-compute", raising=False)
    model = single_matmul_model(np.random.default_rng(5))
    with pytest.raises(ConfigError, match="'gl-compute' is not available"):
        backends.create_backend("gl-compute", model,
                                alice_gl.QuantizationConfig(backend="gl-compute", profile="gl43"))


def test_static_mode_on_bundled_mlp(digits):
    config = alice_gl.QuantizationConfig(mode="static", calibration_strategy="minmax",
                                         calibration_samples=100)
    with alice_gl.AliceQuantizationEngine(config) as engine:
        result = engine.quantize(data_path("mlp_digits.onnx"), {"input": digits["x"]})
        outputs = engine.infer({"input": digits["x"][:5]})
    assert result.verdict is Verdict.OK
    assert result.served_mode == "int8"
    assert result.quantization_report.strategy == "minmax"
    op_types = {node.op_type for node in result.model.graph.node}
    assert "QuantizeLinear" in op_types
    assert next(iter(outputs.values())).shape == (5, 10)


def test_calibration_from_npz_path(tmp_path):
    rng = np.random.default_rng(5)
    model, inputs = single_matmul_model(rng), outlier_inputs(rng, 12, 10.0)
    path = tmp_path / "calibration.npz"
    np.savez(path, x=inputs)
    with alice_gl.AliceQuantizationEngine({}) as engine:
        result = engine.quantize(model, path)
    assert result.evaluation_samples == 12


@pytest.mark.parametrize(("backend", "profile"), [("gl-fragment", "webgl2"),
                                                  ("gl-compute", "gl43")])
def test_gl_backend_serves_int8_like_numpy(backend, profile):
    rng = np.random.default_rng(11)
    model, inputs = single_matmul_model(rng), outlier_inputs(rng, 8, 1.0)
    with alice_gl.AliceQuantizationEngine({"backend": "numpy"}) as engine:
        engine.quantize(model, {"x": inputs})
        expected = engine.infer({"x": inputs})["y"]
    with alice_gl.AliceQuantizationEngine({"backend": backend, "profile": profile}) as engine:
        engine.quantize(model, {"x": inputs})
        served = engine.infer({"x": inputs})["y"]
        status = engine.get_status()

    assert status.backend == backend
    assert status.mode == "int8"
    assert status.gl_renderer
    assert status.planned_texture_bytes > 0
    assert status.allocated_texture_bytes == status.planned_texture_bytes
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)
