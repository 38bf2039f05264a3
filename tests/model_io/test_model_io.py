"""load_model and save_model: sources, checks, opset upgrades and atomic writes."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from alice_gl.errors import InvalidModelError
from alice_gl.model_io import default_opset, load_model, save_model


def _relu_model(opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _upsample_model(mode: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Upsample", ["x", "scales"], ["y"], mode=mode)], "upsample",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 4
    return model


def _run_onnxruntime(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_load_copies_model_proto() -> None:
    original = _relu_model()
    before = original.SerializeToString()

    loaded = load_model(original)
    loaded.graph.node[0].name = "changed"

    assert original.SerializeToString() == before


def test_load_from_bytes_and_path(tmp_path) -> None:
    path = tmp_path / "relu.onnx"
    onnx.save_model(_relu_model(), str(path))

    from_path = load_model(path)
    from_bytes = load_model(path.read_bytes())

    assert [node.op_type for node in from_path.graph.node] == ["MatMul", "Relu"]
    assert from_bytes.graph.node[0].op_type == "MatMul"


def test_load_missing_file_names_path(tmp_path) -> None:
    missing = tmp_path / "absent.onnx"

    with pytest.raises(InvalidModelError, match=r"absent\.onnx"):
        load_model(missing)


def test_load_garbage_bytes_rejected() -> None:
    with pytest.raises(InvalidModelError, match="not a serialized ONNX model"):
        load_model(b"\xff\xfe not a model")


def test_load_checker_failure_names_problem() -> None:
    model = _relu_model()
    model.graph.node[0].input[1] = "undefined_weight"

    with pytest.raises(InvalidModelError, match=r"fails onnx\.checker"):
        load_model(model)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_opset9_upsample_keeps_meaning(mode: str) -> None:
    model = _upsample_model(mode)
    x = np.random.default_rng(0).random((1, 1, 3, 3), dtype=np.float32)

    upgraded = load_model(model)

    assert default_opset(upgraded) == 13
    assert upgraded.ir_version >= 7
    np.testing.assert_array_equal(_run_onnxruntime(upgraded, x), _run_onnxruntime(model, x))


def test_save_is_atomic_and_leaves_no_temporaries(tmp_path) -> None:
    target = tmp_path / "out.onnx"
    target.write_bytes(b"previous content")

    save_model(_relu_model(), target)

    assert onnx.load(str(target)).graph.node[0].op_type == "MatMul"
    assert sorted(os.listdir(tmp_path)) == ["out.onnx"]


def test_save_external_data_keeps_caller_model(tmp_path) -> None:
    model = _relu_model()
    before = model.SerializeToString()

    save_model(model, tmp_path / "out.onnx", external_data=True)

    assert model.SerializeToString() == before
    assert sorted(os.listdir(tmp_path)) == ["out.onnx", "out.onnx.data"]
    reloaded = load_model(tmp_path / "out.onnx")
    weight = numpy_helper.to_array(reloaded.graph.initializer[0])
    np.testing.assert_array_equal(weight, np.arange(12, dtype=np.float32).reshape(4, 3))


def test_save_missing_folder_rejected(tmp_path) -> None:
    with pytest.raises(InvalidModelError, match="Output folder not found"):
        save_model(_relu_model(), tmp_path / "missing" / "out.onnx")
