"""Ops whose shape-setting input is a graph input, on GL against the NumPy executor."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alice_gl.executor import NumpySession
from alice_gl.gl import GLContext
from alice_gl.gl_executor import GLSession

ONNX_SIMPLE_TESTS = Path(onnx.__file__).parent / "backend" / "test" / "data" / "simple"


def _output(rank: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                         [f"y{axis}" for axis in range(rank)])


def _single_op_model(op_type: str, x_shape: tuple[int, ...], int_inputs: dict[str, int],
                     rank: int, extra_inputs: tuple[str, ...] = (),
                     **attributes: object) -> onnx.ModelProto:
    """Return ``y = op_type(x, *int_inputs)`` of ``rank``, each int64 input a 1-D graph
    input."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))]
    inputs += [helper.make_tensor_value_info(name, TensorProto.INT64, [length])
               for name, length in int_inputs.items()]
    node = helper.make_node(op_type, ["x", *extra_inputs, *int_inputs], ["y"], name=op_type,
                            **attributes)
    graph = helper.make_graph([node], op_type, inputs, [_output(rank)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _constant_of_shape_model() -> onnx.ModelProto:
    """Return ``y = x + ConstantOfShape(shape, value=1.5)``."""
    value = numpy_helper.from_array(np.array([1.5], dtype=np.float32), "value")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["filled"], name="fill",
                              value=value),
             helper.make_node("Add", ["x", "filled"], ["y"], name="add")]
    graph = helper.make_graph(
        nodes, "fill",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 1]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [_output(2)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _resize_model() -> onnx.ModelProto:
    """Return a nearest-mode Resize whose ``sizes`` is a graph input."""
    return _single_op_model("Resize", (1, 2, 3, 4), {"sizes": 4}, 4, extra_inputs=("", ""),
                            mode="nearest")


def _int(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# Model, the int64 feeds of two runs (the second must recompile), and the data shape.
CASES = {
    "reshape": (lambda: _single_op_model("Reshape", (2, 3, 4), {"shape": 2}, 2),
                [{"shape": _int(4, 6)}, {"shape": _int(-1, 3)}]),
    "expand": (lambda: _single_op_model("Expand", (3, 1), {"shape": 3}, 3),
               [{"shape": _int(2, 3, 4)}, {"shape": _int(1, 3, 5)}]),
    "slice": (lambda: _single_op_model("Slice", (4, 5), {"starts": 2, "ends": 2, "axes": 2,
                                                         "steps": 2}, 2),
              [{"starts": _int(1, 0), "ends": _int(3, 5), "axes": _int(0, 1),
                "steps": _int(1, 2)},
               {"starts": _int(-1, 4), "ends": _int(-5, 0), "axes": _int(0, 1),
                "steps": _int(-2, -1)}]),
    "tile": (lambda: _single_op_model("Tile", (2, 3), {"repeats": 2}, 2),
             [{"repeats": _int(1, 2)}, {"repeats": _int(3, 1)}]),
    "unsqueeze": (lambda: _single_op_model("Unsqueeze", (2, 3), {"axes": 1}, 3),
                  [{"axes": _int(0)}, {"axes": _int(-1)}]),
    "pad": (lambda: _single_op_model("Pad", (2, 3), {"pads": 4}, 2),
            [{"pads": _int(1, 0, 0, 2)}, {"pads": _int(0, 1, 1, 0)}]),
    "resize_sizes": (_resize_model, [{"sizes": _int(1, 2, 6, 8)}, {"sizes": _int(1, 2, 2, 7)}]),
    "constant_of_shape": (_constant_of_shape_model,
                          [{"shape": _int(3, 4)}, {"shape": _int(3, 7)}]),
}


@pytest.mark.parametrize("passes", ["fragment", "compute"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_shape_input_matches_numpy(case: str, passes: str, contexts: dict[str, GLContext],
                                   rng: np.random.Generator) -> None:
    build, runs = CASES[case]
    model = build()
    x_shape = tuple(dim.dim_value for dim in model.graph.input[0].type.tensor_type.shape.dim)
    reference = NumpySession(model)
    with GLSession(model, context=contexts[passes], passes=passes) as session:
        plans = []
        for int_feeds in runs:
            feeds = {"x": rng.standard_normal(x_shape).astype(np.float32), **int_feeds}
            expected = reference.run(feeds)["y"]
            actual = session.run(feeds)["y"]
            assert actual.shape == expected.shape
            np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)
            assert session.numpy_fallback_reason is None
            plans.append(session.plan)
        assert plans[0] is not plans[1]


def test_same_shape_values_reuse_plan(gl43_context: GLContext) -> None:
    model = _single_op_model("Reshape", (2, 3, 4), {"shape": 2}, 2)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    with GLSession(model, context=gl43_context) as session:
        first = session.run({"x": x, "shape": _int(4, 6)})["y"]
        plan = session.plan
        second = session.run({"x": x + 1, "shape": _int(4, 6)})["y"]
        assert session.plan is plan
    np.testing.assert_array_equal(first, x.reshape(4, 6))
    np.testing.assert_array_equal(second, x.reshape(4, 6) + 1)


@pytest.mark.parametrize("passes", ["fragment", "compute"])
@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_onnx_expand_shape_models(number: int, passes: str,
                                  contexts: dict[str, GLContext]) -> None:
    folder = ONNX_SIMPLE_TESTS / f"test_expand_shape_model{number}"
    model = onnx.load(folder / "model.onnx")
    data = folder / "test_data_set_0"
    feeds = {spec.name: numpy_helper.to_array(onnx.load_tensor(data / f"input_{index}.pb"))
             for index, spec in enumerate(model.graph.input)}
    expected = numpy_helper.to_array(onnx.load_tensor(data / "output_0.pb"))
    with GLSession(model, context=contexts[passes], passes=passes) as session:
        actual = session.run(feeds)[model.graph.output[0].name]
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def _nonzero_model() -> onnx.ModelProto:
    """Return ``y = -float(NonZero(x))``, whose length depends on the values of x."""
    nodes = [helper.make_node("NonZero", ["x"], ["indices"], name="nonzero"),
             helper.make_node("Cast", ["indices"], ["as_float"], name="cast",
                              to=TensorProto.FLOAT),
             helper.make_node("Neg", ["as_float"], ["y"], name="neg")]
    graph = helper.make_graph(
        nodes, "nonzero", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10, 10])],
        [_output(2)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _float_target_model() -> onnx.ModelProto:
    """Return ``y = Relu(Reshape(x, int64(target)))`` with a float graph input ``target``."""
    nodes = [helper.make_node("Cast", ["target"], ["shape"], name="cast", to=TensorProto.INT64),
             helper.make_node("Reshape", ["x", "shape"], ["reshaped"], name="reshape"),
             helper.make_node("Relu", ["reshaped"], ["y"], name="relu")]
    graph = helper.make_graph(
        nodes, "float_target",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
         helper.make_tensor_value_info("target", TensorProto.FLOAT, [2])],
        [_output(2)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _nonzero_feeds() -> dict[str, np.ndarray]:
    x = np.zeros((10, 10), dtype=np.float32)
    x[[1, 4, 7], [2, 2, 9]] = 1.0
    return {"x": x}


def _float_target_feeds() -> dict[str, np.ndarray]:
    return {"x": np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 6),
            "target": np.array([3, 4], dtype=np.float32)}


# Model, feeds, and the node that the fallback reason names.
DATA_DEPENDENT_CASES = {
    "nonzero_of_input": (_nonzero_model, _nonzero_feeds, "nonzero"),
    "float_shape_input": (_float_target_model, _float_target_feeds, "reshape"),
}


@pytest.mark.parametrize("case", sorted(DATA_DEPENDENT_CASES))
def test_data_dependent_shape_runs_numpy(case: str, gl43_context: GLContext,
                                         caplog: pytest.LogCaptureFixture) -> None:
    build, make_feeds, node_name = DATA_DEPENDENT_CASES[case]
    model, feeds = build(), make_feeds()
    expected = NumpySession(model).run(feeds)["y"]
    with caplog.at_level(logging.WARNING, logger="alice_gl.gl_executor.session"), \
            GLSession(model, context=gl43_context) as session:
        first = session.run(feeds)["y"]
        second = session.run(feeds)["y"]
        reason = session.numpy_fallback_reason
        plan = session.plan
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(second, expected)
    assert plan is None
    assert reason is not None
    assert f"'{node_name}'" in reason
    assert len(warnings) == 1
