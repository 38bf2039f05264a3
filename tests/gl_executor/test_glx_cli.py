"""``alice-gl run`` with the GL backends, the budget error, the ``auto`` fallback, and the
engine backend factories."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import onnx
import pytest

from alice_gl.bundled import BundledModel
from alice_gl.cli import main
from alice_gl.engine.config import QuantizationConfig
from alice_gl.errors import GLContextError
from alice_gl.executor import NumpySession
from alice_gl.gl_executor.engine_backend import ENGINE_BACKEND_FACTORIES


@pytest.fixture
def cnn_inputs(cnn_digits: BundledModel, tmp_path: Path) -> Path:
    path = tmp_path / "inputs.npz"
    np.savez(path, **{cnn_digits.input_name: cnn_digits.test_inputs[:3]})
    return path


@pytest.mark.parametrize("backend", ["gl-fragment", "gl-compute", "auto"])
def test_run_gl_backend_writes_numpy_equal_outputs(backend: str, cnn_digits: BundledModel,
                                                   cnn_inputs: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    output_path = tmp_path / "outputs.npz"
    code = main(["run", str(cnn_digits.model_path), "--input", str(cnn_inputs),
                 "--backend", backend, "-o", str(output_path)])
    assert code == 0
    assert "logits: shape (3, 10) dtype float32" in capsys.readouterr().out
    expected = NumpySession(cnn_digits.model_path).run(
        {cnn_digits.input_name: cnn_digits.test_inputs[:3]})["logits"]
    with np.load(output_path) as outputs:
        np.testing.assert_allclose(outputs["logits"], expected, atol=1e-4)


def test_run_profile_prints_passes_and_readbacks(cnn_digits: BundledModel, cnn_inputs: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(cnn_digits.model_path), "--input", str(cnn_inputs),
                 "--backend", "gl-compute", "--profile", "--block-size", "64",
                 "--max-concurrent-blocks", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "profile: 9 passes, 1 output readback(s), 1 input upload(s), 0 NumPy partition(s)" \
        in out
    assert "conv /conv1/Conv: 1 pass(es)" in out


def test_run_budget_error_exits_2(cnn_digits: BundledModel, cnn_inputs: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(cnn_digits.model_path), "--input", str(cnn_inputs),
                 "--backend", "gl-fragment", "--max-memory-mb", "0.05"])
    assert code == 2
    assert re.search(r"Memory limit exceeded: [\d.]+MB > 0.05MB", capsys.readouterr().err)


def test_run_invalid_block_size_exits_2(cnn_digits: BundledModel, cnn_inputs: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(cnn_digits.model_path), "--input", str(cnn_inputs),
                 "--backend", "gl-fragment", "--block-size", "30"])
    assert code == 2
    assert "Invalid block_size=30" in capsys.readouterr().err


def test_auto_falls_back_to_numpy_with_one_warning(cnn_digits: BundledModel, cnn_inputs: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def no_context(*args: object, **kwargs: object) -> None:
        raise GLContextError("Cannot create a headless OpenGL context through EGL (test)")

    monkeypatch.setattr("alice_gl.gl_executor.session.GLContext", no_context)
    with caplog.at_level(logging.WARNING):
        code = main(["run", str(cnn_digits.model_path), "--input", str(cnn_inputs),
                     "--backend", "auto", "--profile"])
    assert code == 0
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "running on the NumPy executor" in warnings[0].getMessage()
    assert "profile: the numpy backend runs no GL passes" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["gl-fragment", "gl-compute"])
def test_engine_backend_factories(name: str, cnn_digits: BundledModel) -> None:
    model = onnx.load(str(cnn_digits.model_path))
    feeds = {cnn_digits.input_name: cnn_digits.test_inputs[:2]}
    backend = ENGINE_BACKEND_FACTORIES[name](model, QuantizationConfig(max_memory_mb=8.0))
    try:
        outputs = backend.run(feeds)
        assert backend.name == name
        assert backend.renderer
        assert backend.planned_texture_bytes > 0
        assert backend.allocated_texture_bytes == backend.planned_texture_bytes
    finally:
        backend.close()
    assert backend.allocated_texture_bytes == 0
    expected = NumpySession(model).run(feeds)["logits"]
    np.testing.assert_allclose(outputs["logits"], expected, atol=1e-4)
