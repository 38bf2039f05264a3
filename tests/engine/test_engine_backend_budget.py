"""The engine compiles the GL plan in ``quantize``, so a budget it can never meet fails there."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import alice_gl
from alice_gl.errors import EngineStateError, MemoryLimitExceededError
from alice_gl.executor import NumpySession
from alice_gl.resources import data_path

TINY_BUDGET_MB = 0.01


@pytest.fixture(scope="module")
def digits_x() -> np.ndarray:
    with np.load(data_path("digits_test.npz")) as data:
        return data["x"][:20].astype(np.float32)


def test_explicit_gl_over_budget_raises(digits_x: np.ndarray) -> None:
    config = alice_gl.QuantizationConfig(max_memory_mb=TINY_BUDGET_MB, backend="gl-fragment")
    with alice_gl.AliceQuantizationEngine(config) as engine:
        with pytest.raises(MemoryLimitExceededError, match="Memory limit exceeded"):
            engine.quantize(data_path("mlp_digits.onnx"), {"input": digits_x})
        status = engine.get_status()
        with pytest.raises(EngineStateError, match="creating the gl-fragment backend failed"):
            engine.infer({"input": digits_x[:4]})
    assert status.backend is None
    assert status.mode is None


def test_auto_over_budget_falls_back(digits_x: np.ndarray,
                                     caplog: pytest.LogCaptureFixture) -> None:
    config = alice_gl.QuantizationConfig(max_memory_mb=TINY_BUDGET_MB, backend="auto",
                                         profile="webgl2")
    with caplog.at_level(logging.WARNING, logger="alice_gl.engine.backends"), \
            alice_gl.AliceQuantizationEngine(config) as engine:
        result = engine.quantize(data_path("mlp_digits.onnx"), {"input": digits_x})
        outputs = engine.infer({"input": digits_x[:4]})
        status = engine.get_status()
    warnings = [record.getMessage() for record in caplog.records
                if record.name == "alice_gl.engine.backends"
                and record.levelno == logging.WARNING]
    expected = NumpySession(result.model).run({"input": digits_x[:4]})
    assert status.backend == "numpy"
    assert status.mode == "int8"
    assert len(warnings) == 1
    assert "Memory limit exceeded" in warnings[0]
    for name, value in expected.items():
        np.testing.assert_array_equal(outputs[name], value)


def test_gl_plan_compiled_in_quantize(digits_x: np.ndarray) -> None:
    config = alice_gl.QuantizationConfig(backend="gl-fragment")
    with alice_gl.AliceQuantizationEngine(config) as engine:
        engine.quantize(data_path("mlp_digits.onnx"), {"input": digits_x})
        status = engine.get_status()
    assert status.backend == "gl-fragment"
    assert status.planned_texture_bytes > 0
    assert status.allocated_texture_bytes == status.planned_texture_bytes
