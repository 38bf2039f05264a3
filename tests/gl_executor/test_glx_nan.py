"""NaN in an input reaches the outputs on GL where it does on the NumPy executor."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alice_gl.bundled import BundledModel
from alice_gl.executor import NumpySession
from alice_gl.gl import GLContext
from alice_gl.gl_executor import GLSession


def _model(nodes: list[onnx.NodeProto], x_shape: tuple[int, ...],
           initializers: dict[str, np.ndarray]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "nan", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                       [f"y{axis}" for axis in range(len(x_shape))])],
        [numpy_helper.from_array(value, name) for name, value in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def _unary(op_type: str, **attributes: object):
    return lambda: _model([helper.make_node(op_type, ["x"], ["y"], **attributes)], (2, 6), {})


def _with_constant(op_type: str):
    constant = np.linspace(-1, 1, 6, dtype=np.float32)
    return lambda: _model([helper.make_node(op_type, ["x", "c"], ["y"])], (2, 6),
                          {"c": constant})


def _clip():
    bounds = {"low": np.array(-0.5, np.float32), "high": np.array(0.5, np.float32)}
    return _model([helper.make_node("Clip", ["x", "low", "high"], ["y"])], (2, 6), bounds)


def _matmul_activation(activation: str):
    def build() -> onnx.ModelProto:
        weights = {"w": np.linspace(-1, 1, 18, dtype=np.float32).reshape(6, 3),
                   "low": np.array(-0.5, np.float32), "high": np.array(0.5, np.float32)}
        inputs = ["h", "low", "high"] if activation == "Clip" else ["h"]
        nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
                 helper.make_node(activation, inputs, ["y"])]
        return _model(nodes, (2, 6), weights)
    return build


def _conv_relu():
    weights = {"w": np.linspace(-1, 1, 2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["y"])]
    return _model(nodes, (1, 2, 4, 4), weights)


def _max_pool():
    return _model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2])],
                  (1, 2, 4, 4), {})


CASES = {
    "relu": _unary("Relu"), "hard_sigmoid": _unary("HardSigmoid"),
    "hard_swish": _unary("HardSwish"), "softmax": _unary("Softmax"),
    "log_softmax": _unary("LogSoftmax"), "clip": _clip, "max": _with_constant("Max"),
    "min": _with_constant("Min"), "matmul_relu": _matmul_activation("Relu"),
    "matmul_clip": _matmul_activation("Clip"), "conv_relu": _conv_relu,
    "max_pool": _max_pool,
}


@pytest.mark.parametrize("passes", ["fragment", "compute"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_nan_propagates_like_numpy(case: str, passes: str, contexts: dict[str, GLContext],
                                   rng: np.random.Generator) -> None:
    model = CASES[case]()
    x_shape = tuple(dim.dim_value for dim in model.graph.input[0].type.tensor_type.shape.dim)
    x = rng.standard_normal(x_shape).astype(np.float32)
    x.reshape(-1)[[1, -1]] = np.nan
    expected = NumpySession(model).run({"x": x})["y"]
    with GLSession(model, context=contexts[passes], passes=passes) as session:
        actual = session.run({"x": x})["y"]
        kinds = {step.kind for step in session.plan.steps}
    assert "numpy" not in kinds
    assert np.isnan(expected).any()
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_bundled_mlp_nan_sample(passes: str, mlp_digits: BundledModel,
                                contexts: dict[str, GLContext]) -> None:
    x = mlp_digits.test_inputs[:4].astype(np.float32)
    x[1, 5] = np.nan
    expected = NumpySession(str(mlp_digits.model_path)).run({mlp_digits.input_name: x})
    with GLSession(str(mlp_digits.model_path), context=contexts[passes],
                   passes=passes) as session:
        actual = session.run({mlp_digits.input_name: x})
    for name, value in expected.items():
        assert np.isnan(value[1]).all()
        np.testing.assert_array_equal(np.isnan(actual[name]), np.isnan(value))
        np.testing.assert_allclose(actual[name], value, rtol=1e-4, atol=1e-6)
