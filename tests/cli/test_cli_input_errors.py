"""Bad input, interrupts and closed pipes end with one message and the documented exit code."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_models import outlier_inputs, outlier_matmul_model
from onnx import TensorProto, helper, numpy_helper

from alice_gl.cli import main
from alice_gl.cli import run as run_command
from alice_gl.engine.guard import similarity_too_low_message


@pytest.fixture
def model_path(rng, tmp_path) -> Path:
    path = tmp_path / "model.onnx"
    onnx.save_model(outlier_matmul_model(rng), str(path))
    return path


@pytest.fixture
def samples_path(tmp_path) -> Path:
    path = tmp_path / "samples.npz"
    np.savez(path, x=outlier_inputs(np.random.default_rng(1), 4, outlier=1.0))
    return path


def tiny_matmul(weight: np.ndarray, opset: int = 13) -> onnx.ModelProto:
    """Return ``y = x @ W`` for ``W`` of shape ``[k, n]``, unchecked (the opset may be invalid)."""
    k, n = weight.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="tiny")], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n])],
        initializer=[numpy_helper.from_array(weight.astype(np.float32), "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def test_cli_infinite_memory_budget_rejected(model_path, samples_path, capsys):
    for value in ("inf", "nan", "-inf"):
        code = main(["run", str(model_path), "--input", str(samples_path),
                     f"--max-memory-mb={value}"])
        assert code == 2
        assert f"expected a finite number, got {value}" in capsys.readouterr().err


def test_cli_corrupt_npz_input(model_path, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    code = main(["run", str(model_path), "--input", str(bad), "--backend", "numpy"])
    error = capsys.readouterr().err
    assert code == 2
    assert f"Failed to read {bad} as an .npz archive" in error
    assert "Traceback" not in error


def test_cli_interrupt_exits_130(model_path, samples_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setitem(run_command.BACKENDS, "numpy", interrupt)
    code = main(["run", str(model_path), "--input", str(samples_path), "--backend", "numpy"])
    assert code == 130
    assert capsys.readouterr().err == "alice-gl run: interrupted\n"


def test_cli_closed_stdout_is_quiet(model_path):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "alice_gl", "inspect", str(model_path), "--json"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert completed.returncode == 1
    assert completed.stderr == b""


def test_cli_nan_validation_is_bad_input(model_path, tmp_path, capsys):
    samples = outlier_inputs(np.random.default_rng(1), 4, outlier=1.0)
    samples[2, 5] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, x=samples)
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--validation", str(path)])
    error = capsys.readouterr().err
    assert code == 2
    assert f"Input 'x' in {path} contains NaN or Inf (first in sample 2" in error
    assert "validation samples must be finite" in error
    assert not (tmp_path / "q.onnx").exists()


def test_cli_inf_calibration_is_bad_input(model_path, tmp_path, capsys):
    samples = outlier_inputs(np.random.default_rng(1), 4, outlier=1.0)
    samples[0, 0] = np.inf
    path = tmp_path / "inf.npz"
    np.savez(path, x=samples)
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--mode", "static", "--calibration", str(path)])
    error = capsys.readouterr().err
    assert code == 2
    assert "calibration samples must be finite" in error


def test_cli_validation_errors_say_validation(model_path, tmp_path, capsys):
    path = tmp_path / "wrong.npz"
    np.savez(path, z=np.zeros((2, 32), dtype=np.float32))
    code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                 "--validation", str(path)])
    error = capsys.readouterr().err
    assert code == 2
    assert f"Validation data in {path} has missing input(s) 'x'" in error


def test_cli_similarity_message_shows_threshold():
    assert similarity_too_low_message(0.99718, 0.9999) == "similarity too low (0.9972 < 0.9999)"
    assert similarity_too_low_message(0.91749, 0.95) == "similarity too low (0.92 < 0.95)"
    assert similarity_too_low_message(0.99985, 0.9999) == \
        "similarity too low (0.99985 < 0.99990)"


def test_cli_grammar_single_flag(model_path, tmp_path, capsys):
    output = str(tmp_path / "q.onnx")
    assert main(["quantize", str(model_path), "-o", output, "--strategy", "kl"]) == 2
    assert "--strategy applies only to --mode static" in capsys.readouterr().err
    assert main(["quantize", str(model_path), "-o", output, "--strategy", "kl",
                 "--calibration", "data.npz"]) == 2
    assert "--calibration, --strategy apply only to --mode static" in capsys.readouterr().err
    assert main(["quantize", str(model_path), "-o", output,
                 "--fallback-threshold", "0.9"]) == 2
    assert "--fallback-threshold needs sample data" in capsys.readouterr().err


def test_cli_inspect_says_larger(tmp_path, capsys):
    path = tmp_path / "tiny.onnx"
    onnx.save_model(tiny_matmul(np.ones((2, 2))), str(path))
    assert main(["inspect", str(path)]) == 0
    output = capsys.readouterr().out
    assert "x larger" in output
    assert "x smaller" not in output


def test_cli_model_file_problems(tmp_path, capsys):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert main(["inspect", str(empty)]) == 2
    assert f"Model file {empty} is empty (0 bytes)" in capsys.readouterr().err

    assert main(["inspect", str(tmp_path)]) == 2
    assert f"Model path {tmp_path} is a folder, not a file" in capsys.readouterr().err

    newer = tmp_path / "newer.onnx"
    onnx.save_model(tiny_matmul(np.ones((2, 2)), opset=99), str(newer))
    assert main(["inspect", str(newer)]) == 2
    error = capsys.readouterr().err
    assert f"opset 99, newer than opset {onnx.defs.onnx_opset_version()}" in error


def test_cli_opset_conversion_error_punctuation(tmp_path, capsys):
    weight = helper.make_tensor_value_info("W", TensorProto.FLOAT, [2, 2])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "old",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        value_info=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    path = tmp_path / "old.onnx"
    onnx.save_model(model, str(path))
    assert main(["inspect", str(path)]) == 2
    error = capsys.readouterr().err
    assert "below the minimum 10" in error
    assert "!." not in error


def test_cli_exclude_everything_warns(model_path, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        code = main(["quantize", str(model_path), "-o", str(tmp_path / "q.onnx"),
                     "--exclude", "matmul"])
    assert code == 0
    assert "No node was quantized because --exclude leaves no quantizable node" in caplog.text


def test_cli_nan_weight_names_node(tmp_path, capsys):
    weight = np.ones((4, 2))
    weight[1, 1] = np.nan
    path = tmp_path / "nanw.onnx"
    onnx.save_model(tiny_matmul(weight), str(path))
    assert main(["quantize", str(path), "-o", str(tmp_path / "q.onnx")]) == 1
    assert "Weight W of node 'tiny' contains 1 NaN or Inf" in capsys.readouterr().err


def test_run_input_fifo_rejected(model_path, tmp_path, capsys):
    fifo = tmp_path / "inputs.npz"
    os.mkfifo(fifo)

    code = main(["run", str(model_path), "--input", str(fifo), "--backend", "numpy"])

    assert code == 2
    assert "is not a regular file" in capsys.readouterr().err
