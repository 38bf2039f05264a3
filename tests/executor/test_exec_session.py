"""NumpySession's contract: loading, input checks, output selection, folding and run_node."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alice_gl.errors import (
    ExecutionError,
    InvalidInputError,
    InvalidModelError,
    UnsupportedOperatorError,
)
from alice_gl.executor import NumpySession, run_node, supported_op_types
from alice_gl.executor.plan import build_plan
from alice_gl.resources import data_path


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _affine_model() -> onnx.ModelProto:
    """y = relu(x @ w + b) with x: (batch, 3) float32."""
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) - 2.5, "w")
    b = numpy_helper.from_array(np.array([0.5, -1.0], dtype=np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
             helper.make_node("Add", ["xw", "b"], ["pre"], name="add"),
             helper.make_node("Relu", ["pre"], ["y"], name="relu")]
    return _model(nodes,
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
                  [w, b])


def test_exec_session_runs_affine(rng) -> None:
    session = NumpySession(_affine_model())
    x = rng.normal(size=(4, 3)).astype(np.float32)
    w = np.arange(6, dtype=np.float32).reshape(3, 2) - 2.5
    expected = np.maximum(x @ w + np.array([0.5, -1.0], dtype=np.float32), 0)

    result = session.run({"x": x})

    assert session.input_names == ["x"]
    assert session.output_names == ["y"]
    assert list(result) == ["y"]
    np.testing.assert_allclose(result["y"], expected, rtol=1e-6)


def test_exec_session_accepts_path_and_bytes() -> None:
    path = data_path("mlp_digits.onnx")
    x = np.load(data_path("digits_test.npz"))["x"][:8]
    from_path = NumpySession(path).run({"input": x})
    from_bytes = NumpySession(path.read_bytes()).run({"input": x})
    np.testing.assert_array_equal(from_path["probabilities"], from_bytes["probabilities"])


def test_exec_session_bundled_mlp_accuracy() -> None:
    # models.json stores the FP32 accuracy measured with onnxruntime on the bundled split.
    entry = json.loads(data_path("models.json").read_text())["mlp_digits"]
    digits = np.load(data_path("digits_test.npz"))
    probabilities = NumpySession(data_path(entry["file"])).run(
        {entry["input_name"]: digits[entry["test_inputs"]]})[entry["score_output"]]
    accuracy = float(np.mean(probabilities.argmax(axis=1) == digits["y"]))
    # Allow one sample to flip between float32 summation orders.
    assert accuracy == pytest.approx(entry["fp32_test_accuracy"], abs=1.5 / len(digits["y"]))


def test_exec_session_leaves_model_unchanged() -> None:
    model = _affine_model()
    before = model.SerializeToString()
    NumpySession(model).run({"x": np.ones((1, 3), dtype=np.float32)})
    assert model.SerializeToString() == before


def test_exec_session_intermediate_outputs(rng) -> None:
    session = NumpySession(_affine_model())
    x = rng.normal(size=(2, 3)).astype(np.float32)
    result = session.run({"x": x}, ["xw", "y", "w"])
    assert list(result) == ["xw", "y", "w"]
    np.testing.assert_allclose(result["xw"], x @ result["w"], rtol=1e-6)
    np.testing.assert_allclose(result["y"], np.maximum(result["xw"] + [0.5, -1.0], 0),
                               rtol=1e-6)


def test_exec_session_result_does_not_alias_constants() -> None:
    session = NumpySession(_affine_model())
    weights = session.run({"x": np.ones((1, 3), dtype=np.float32)}, ["w"])["w"]
    weights[...] = 0
    assert np.any(session.graph.constants["w"] != 0)


def test_exec_session_unknown_output_name() -> None:
    session = NumpySession(_affine_model())
    with pytest.raises(InvalidInputError, match="not_a_value"):
        session.run({"x": np.ones((1, 3), dtype=np.float32)}, ["not_a_value"])


@pytest.mark.parametrize(("feeds", "message"), [
    ({}, "Missing inputs"),
    ({"x": np.ones((1, 3), np.float32), "z": np.ones(1)}, "Unknown input names"),
    ({"x": np.ones((1, 3), np.float64)}, "dtype float64"),
    ({"x": np.ones((3,), np.float32)}, "rank"),
    ({"x": np.ones((1, 4), np.float32)}, "axis 1 must be 3"),
    ({"x": [[1.0, 2.0, 3.0]]}, "not an ndarray"),
])
def test_exec_session_rejects_bad_inputs(feeds, message) -> None:
    session = NumpySession(_affine_model())
    with pytest.raises(InvalidInputError, match=message):
        session.run(feeds)


def test_exec_session_symbolic_dims_must_agree() -> None:
    nodes = [helper.make_node("Add", ["a", "b"], ["c"])]
    model = _model(nodes,
                   [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n"]),
                    helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n"])],
                   [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["n"])])
    session = NumpySession(model)
    with pytest.raises(InvalidInputError, match="Dimension 'n'"):
        session.run({"a": np.ones(2, np.float32), "b": np.ones(3, np.float32)})


def test_exec_unsupported_ops_listed_at_load() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="ok"),
             helper.make_node("Unique", ["r"], ["s"], name="first_bad"),
             helper.make_node("Custom", ["s"], ["t"], name="second_bad", domain="com.example"),
             helper.make_node("Unique", ["t"], ["y"], name="third_bad")]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedOperatorError) as caught:
        NumpySession(model.SerializeToString())
    message = str(caught.value)
    for expected in ("Unique", "com.example.Custom", "first_bad", "second_bad", "third_bad"):
        assert expected in message
    assert "'ok'" not in message


def test_exec_unsupported_op_in_subgraph_listed() -> None:
    branch = helper.make_graph([helper.make_node("Unique", ["x"], ["y"], name="inner_bad")],
                               "branch", [],
                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    node = helper.make_node("If", ["cond"], ["out"], then_branch=branch, else_branch=branch)
    model = _model([node],
                   [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                    helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                   [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 2])])
    with pytest.raises(UnsupportedOperatorError, match="inner_bad"):
        NumpySession(model, fold_constants=False)


def test_exec_unsupported_attribute_at_load() -> None:
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                              name="bn", training_mode=1)]
    inits = [numpy_helper.from_array(np.ones(2, np.float32), name) for name in "sbmv"]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2])], inits)
    with pytest.raises(UnsupportedOperatorError, match="training_mode"):
        NumpySession(model)


def test_exec_constant_folding_plan() -> None:
    shape = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["ones"], name="fill",
                              value=numpy_helper.from_array(np.ones(1, np.float32))),
             helper.make_node("Mul", ["ones", "ones"], ["still_ones"], name="square"),
             helper.make_node("Add", ["x", "still_ones"], ["y"], name="add")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [shape])

    folded = NumpySession(model)
    unfolded = NumpySession(model, fold_constants=False)

    assert [node.name for node in folded.graph.nodes] == ["add"]
    assert folded.graph.folded_nodes == ["fill", "square"]
    assert [node.name for node in unfolded.graph.nodes] == ["fill", "square", "add"]
    np.testing.assert_array_equal(folded.graph.constants["still_ones"], np.ones((2, 3)))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(folded.run({"x": x})["y"], x + 1)
    np.testing.assert_array_equal(unfolded.run({"x": x})["y"], x + 1)
    assert folded.graph.value_specs["y"].shape == (2, 3)
    assert folded.graph.value_specs["y"].dtype == np.float32


def test_exec_dequantize_never_folded() -> None:
    weight = numpy_helper.from_array(np.array([[1, -2], [3, 4]], dtype=np.int8), "w_int8")
    scale = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "w_scale")
    nodes = [helper.make_node("DequantizeLinear", ["w_int8", "w_scale"], ["w"], name="dq"),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                   [weight, scale])
    session = NumpySession(model)
    assert [node.op_type for node in session.graph.nodes] == ["DequantizeLinear", "MatMul"]
    assert session.graph.constants["w_int8"].dtype == np.int8
    y = session.run({"x": np.array([[1.0, 1.0]], dtype=np.float32)})["y"]
    np.testing.assert_array_equal(y, [[2.0, 1.0]])


def test_exec_plan_sorts_nodes() -> None:
    # onnx.checker rejects unsorted graphs, so this builds the plan directly.
    nodes = [helper.make_node("Relu", ["mid"], ["y"], name="second"),
             helper.make_node("Neg", ["x"], ["mid"], name="first")]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    plan = build_plan(graph, opset=17)
    assert [node.name for node in plan.nodes] == ["first", "second"]
    result = plan.run({"x": np.array([1.0, -2.0], dtype=np.float32)})
    np.testing.assert_array_equal(result["y"], [0.0, 2.0])


def test_exec_plan_rejects_undefined_input() -> None:
    nodes = [helper.make_node("Relu", ["nowhere"], ["y"], name="orphan")]
    graph = helper.make_graph(nodes, "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    with pytest.raises(InvalidModelError, match="nowhere"):
        build_plan(graph, opset=17)


def test_exec_if_reads_outer_scope() -> None:
    then_branch = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["doubled"])], "then", [],
        [helper.make_tensor_value_info("doubled", TensorProto.FLOAT, [2])])
    else_branch = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["negated"])], "else", [],
        [helper.make_tensor_value_info("negated", TensorProto.FLOAT, [2])])
    node = helper.make_node("If", ["cond"], ["y"], then_branch=then_branch,
                            else_branch=else_branch)
    model = _model([node],
                   [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                    helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    session = NumpySession(model)
    x = np.array([1.0, -3.0], dtype=np.float32)
    assert session.graph.nodes[0].outer_inputs == ("x",)
    np.testing.assert_array_equal(session.run({"cond": np.array(True), "x": x})["y"], 2 * x)
    np.testing.assert_array_equal(session.run({"cond": np.array(False), "x": x})["y"], -x)


def test_exec_node_failure_names_node() -> None:
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="bad_reshape")]
    model = _model(nodes,
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6]),
                    helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])])
    session = NumpySession(model)
    with pytest.raises(ExecutionError, match="bad_reshape"):
        session.run({"x": np.ones(6, np.float32), "shape": np.array([4, 4], np.int64)})


def test_exec_run_node_matches_numpy(rng) -> None:
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    b = rng.normal(size=(5, 4)).astype(np.float32)
    c = rng.normal(size=(5,)).astype(np.float32)
    (y,) = run_node(node, [a, b, c], opset=13)
    np.testing.assert_allclose(y, 0.5 * a @ b.T + 2.0 * c, rtol=1e-5)


def test_exec_run_node_picks_opset_version() -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    # Softmax before opset 13 normalizes over the flattened axes from ``axis`` on.
    (old,) = run_node(helper.make_node("Softmax", ["x"], ["y"], axis=1), [x], opset=11)
    (new,) = run_node(helper.make_node("Softmax", ["x"], ["y"], axis=1), [x], opset=13)
    np.testing.assert_allclose(old.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(new.sum(axis=1), np.ones((1, 3)), rtol=1e-6)


def test_exec_run_node_unsupported() -> None:
    with pytest.raises(UnsupportedOperatorError, match="Unique"):
        run_node(helper.make_node("Unique", ["x"], ["y"]), [np.ones((2, 2))], opset=14)


def test_exec_supported_op_types_cover_issue_list() -> None:
    required = {
        "MatMul", "Gemm", "Conv", "ConvTranspose", "MatMulInteger", "ConvInteger",
        "DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear", "Add", "Sub", "Mul",
        "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Relu", "LeakyRelu",
        "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "Clip", "Softmax",
        "LogSoftmax", "LayerNormalization", "BatchNormalization", "InstanceNormalization",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape",
        "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Gather", "Shape",
        "Constant", "ConstantOfShape", "Cast", "Identity", "Dropout", "ReduceMean", "ReduceSum",
        "ReduceMax", "Where", "Equal", "Greater", "Less", "Expand", "Pad", "Resize", "Sum", "Max",
        "Min", "If", "LSTM", "GRU", "ArgMax",
    }
    assert required <= supported_op_types()


def test_exec_load_error_lists_kernels_and_attributes() -> None:
    nodes = [helper.make_node("Unique", ["x"], ["t"], name="no_kernel"),
             helper.make_node("Resize", ["t", "", "scales"], ["y"], name="antialiased",
                              mode="linear", antialias=1)]
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
                   [scales], opset=19)
    with pytest.raises(UnsupportedOperatorError) as caught:
        NumpySession(model)
    message = str(caught.value)
    assert "Unique (node 'no_kernel')" in message
    assert "Resize (node 'antialiased'): antialias=1" in message


def test_exec_loop_with_nested_if_reads_outer_scope() -> None:
    """Loop body: carried += step, where step comes from an If that reads the main graph."""
    branch_then = helper.make_graph(
        [helper.make_node("Identity", ["step"], ["chosen"])], "then", [],
        [helper.make_tensor_value_info("chosen", TensorProto.FLOAT, [2])])
    branch_else = helper.make_graph(
        [helper.make_node("Neg", ["step"], ["negated"])], "else", [],
        [helper.make_tensor_value_info("negated", TensorProto.FLOAT, [2])])
    body = helper.make_graph(
        [helper.make_node("If", ["positive"], ["delta"], then_branch=branch_then,
                          else_branch=branch_else),
         helper.make_node("Add", ["carried_in", "delta"], ["carried_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["carried_out"], ["history"])],
        "body",
        [helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("history", TensorProto.FLOAT, [2])])
    loop = helper.make_node("Loop", ["trips", "", "start"], ["final", "all"], body=body)
    model = _model([loop],
                   [helper.make_tensor_value_info("trips", TensorProto.INT64, []),
                    helper.make_tensor_value_info("start", TensorProto.FLOAT, [2]),
                    helper.make_tensor_value_info("step", TensorProto.FLOAT, [2]),
                    helper.make_tensor_value_info("positive", TensorProto.BOOL, [])],
                   [helper.make_tensor_value_info("final", TensorProto.FLOAT, [2]),
                    helper.make_tensor_value_info("all", TensorProto.FLOAT, [3, 2])])
    session = NumpySession(model)
    feeds = {"trips": np.array(3, dtype=np.int64), "start": np.zeros(2, np.float32),
             "step": np.array([1.0, 2.0], np.float32), "positive": np.array(False)}

    result = session.run(feeds)

    assert session.graph.nodes[0].outer_inputs == ("positive", "step")
    np.testing.assert_array_equal(result["final"], [-3.0, -6.0])
    np.testing.assert_array_equal(result["all"], [[-1.0, -2.0], [-2.0, -4.0], [-3.0, -6.0]])


def test_exec_schedule_releases_intermediates() -> None:
    session = NumpySession(_affine_model())
    schedule = session.graph._schedule(("y",))
    released = {node.name: set(free) for node, free in schedule}
    assert released == {"matmul": {"x"}, "add": {"xw"}, "relu": {"pre"}}
    # A requested intermediate is kept to the end.
    schedule = session.graph._schedule(("xw", "y"))
    assert all("xw" not in free for _, free in schedule)
