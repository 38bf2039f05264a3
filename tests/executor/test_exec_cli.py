"""``alice-gl run``: inputs from .npz or .npy, a summary line per output, outputs to .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from alice_gl.cli import EXIT_BAD_INPUT, EXIT_OK, main
from alice_gl.executor import NumpySession
from alice_gl.resources import data_path

MLP = data_path("mlp_digits.onnx")


@pytest.fixture
def digits() -> np.ndarray:
    return np.load(data_path("digits_test.npz"))["x"][:6]


def _two_input_model(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Sub", ["a", "b"], ["a/minus_b"])], "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("a/minus_b", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_exec_cli_npy_input_and_output(tmp_path, digits, capsys) -> None:
    np.save(tmp_path / "x.npy", digits)
    output = tmp_path / "out.npz"

    code = main(["run", str(MLP), "--input", str(tmp_path / "x.npy"), "--backend", "numpy",
                 "-o", str(output)])

    printed = capsys.readouterr().out
    expected = NumpySession(MLP).run({"input": digits})["probabilities"]
    assert code == EXIT_OK
    assert "backend: numpy\n" in printed
    assert "probabilities: shape (6, 10) dtype float32 min " in printed
    assert f"mean {expected.mean():.6g}" in printed
    with np.load(output) as saved:
        assert saved.files == ["probabilities"]
        np.testing.assert_array_equal(saved["probabilities"], expected)
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_exec_cli_npz_input_keyed_by_name(tmp_path, capsys) -> None:
    model = _two_input_model(tmp_path / "sub.onnx")
    np.savez(tmp_path / "in.npz", a=np.array([5.0, 1.0], np.float32),
             b=np.array([2.0, 4.0], np.float32))
    output = tmp_path / "out.npz"

    code = main(["run", str(model), "--input", str(tmp_path / "in.npz"), "--backend", "numpy",
                 "-o", str(output)])

    assert code == EXIT_OK
    assert "a/minus_b: shape (2,) dtype float32 min -3 max 3 mean 0" in capsys.readouterr().out
    with np.load(output) as saved:
        np.testing.assert_array_equal(saved["a/minus_b"], [3.0, -3.0])


def test_exec_cli_npy_needs_single_input(tmp_path, capsys) -> None:
    model = _two_input_model(tmp_path / "sub.onnx")
    np.save(tmp_path / "x.npy", np.zeros(2, np.float32))
    code = main(["run", str(model), "--input", str(tmp_path / "x.npy")])
    assert code == EXIT_BAD_INPUT
    assert "2 inputs" in capsys.readouterr().err


@pytest.mark.parametrize(("file_name", "message"), [
    ("missing.npz", "not found"),
    ("inputs.txt", "must be an .npz"),
])
def test_exec_cli_bad_input_file(tmp_path, file_name, message, capsys) -> None:
    (tmp_path / "inputs.txt").write_text("1 2 3")
    code = main(["run", str(MLP), "--input", str(tmp_path / file_name)])
    assert code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_exec_cli_wrong_dtype_exits_2(tmp_path, digits, capsys) -> None:
    np.save(tmp_path / "x.npy", digits.astype(np.float64))
    code = main(["run", str(MLP), "--input", str(tmp_path / "x.npy")])
    assert code == EXIT_BAD_INPUT
    assert "astype(np.float32)" in capsys.readouterr().err


def test_exec_cli_unknown_backend(tmp_path, digits, capsys) -> None:
    np.save(tmp_path / "x.npy", digits)
    code = main(["run", str(MLP), "--input", str(tmp_path / "x.npy"), "--backend", "cuda"])
    assert code == EXIT_BAD_INPUT
    assert "invalid choice" in capsys.readouterr().err


def test_exec_cli_output_must_be_npz(tmp_path, digits, capsys) -> None:
    np.save(tmp_path / "x.npy", digits)
    code = main(["run", str(MLP), "--input", str(tmp_path / "x.npy"), "-o",
                 str(tmp_path / "out.npy")])
    assert code == EXIT_BAD_INPUT
    assert ".npz" in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()
