"""Graph-level cases: folded weights, subgraphs, opsets, names, options, errors and reports."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from quant_model_builders import (
    cosine,
    float_input,
    initializer,
    initializer_names,
    make_model,
    mlp_model,
    op_types,
    run_onnxruntime,
    tensor,
)

from alice_gl.errors import ConfigError, InvalidModelError, QuantizationError
from alice_gl.quantization import quantize_dynamic
from alice_gl.quantization.graph_walk import iter_graphs


def assert_close_to_fp32(model, quantized, feeds, threshold=0.999):
    expected = run_onnxruntime(model, feeds)
    actual = run_onnxruntime(quantized, feeds)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.shape == want.shape
        assert cosine(got, want) > threshold


def test_constant_node_weight(rng):
    w = rng.normal(0, 0.5, (6, 4)).astype(np.float32)
    nodes = [helper.make_node("Constant", [], ["w"], name="w_const",
                              value=onnx.numpy_helper.from_array(w)),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    model = make_model(nodes, [float_input("x", [3, 6])], [float_input("y", [3, 4])])
    quantized, report = quantize_dynamic(model)
    assert "Constant" not in op_types(quantized)
    assert "MatMulInteger" in op_types(quantized)
    assert initializer_names(quantized.graph) == {"w_quantized", "w_scale"}
    np.testing.assert_allclose(tensor(quantized, "w_scale"), np.abs(w).max(0) / 127, rtol=1e-6)
    assert report.quantized_nodes[0].weight == "w"
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (3, 6)).astype(np.float32)})


def test_constant_of_shape_weight_folded(rng):
    nodes = [
        helper.make_node("Constant", [], ["shape"], name="shape_const", value_ints=[6, 4]),
        helper.make_node("ConstantOfShape", ["shape"], ["w"], name="fill",
                         value=onnx.numpy_helper.from_array(np.array([0.25], np.float32))),
        helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
    ]
    model = make_model(nodes, [float_input("x", [3, 6])], [float_input("y", [3, 4])])
    quantized, report = quantize_dynamic(model)
    assert "ConstantOfShape" not in op_types(quantized)
    assert "MatMulInteger" in op_types(quantized)
    np.testing.assert_allclose(tensor(quantized, "w_scale"), np.full(4, 0.25 / 127), rtol=1e-6)
    assert report.quantized_nodes[0].weight == "w"
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (3, 6)).astype(np.float32)})


def test_cast_transpose_reshape_chain_folded(rng):
    w16 = rng.normal(0, 0.5, (2, 2, 6)).astype(np.float16)
    nodes = [
        helper.make_node("Constant", [], ["shape"], name="shape_const", value_ints=[4, 6]),
        helper.make_node("Cast", ["w16"], ["w32"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["w32", "shape"], ["w_nk"], name="reshape"),
        helper.make_node("Transpose", ["w_nk"], ["w"], name="transpose", perm=[1, 0]),
        helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
    ]
    model = make_model(nodes, [float_input("x", [3, 6])], [float_input("y", [3, 4])],
                       [initializer(w16, "w16")])
    quantized, _ = quantize_dynamic(model)
    assert op_types(quantized) == ["DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul"]
    assert initializer_names(quantized.graph) == {"w_quantized", "w_scale"}
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (3, 6)).astype(np.float32)})


def _branch(name: str, weight_name: str, inner_weight: np.ndarray | None) -> onnx.GraphProto:
    nodes = []
    if inner_weight is not None:
        nodes.append(helper.make_node("Constant", [], [weight_name], name=f"{name}_const",
                                      value=onnx.numpy_helper.from_array(inner_weight)))
    nodes.append(helper.make_node("MatMul", ["x", weight_name], [f"{name}_y"], name=f"{name}_mm"))
    return helper.make_graph(nodes, name, [], [float_input(f"{name}_y", [2, 3])])


def test_weights_inside_if_branches(rng):
    inner = rng.normal(0, 0.5, (5, 3)).astype(np.float32)
    outer = rng.normal(0, 0.5, (5, 3)).astype(np.float32)
    if_node = helper.make_node("If", ["cond"], ["y"], name="branch",
                               then_branch=_branch("then", "w_inner", inner),
                               else_branch=_branch("else", "w_outer", None))
    model = make_model([if_node],
                       [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                        float_input("x", [2, 5])],
                       [float_input("y", [2, 3])], [initializer(outer, "w_outer")])
    quantized, report = quantize_dynamic(model)

    branches = {attribute.name: attribute.g for attribute in quantized.graph.node[0].attribute}
    then_graph, else_graph = branches["then_branch"], branches["else_branch"]
    assert "MatMulInteger" in [node.op_type for node in then_graph.node]
    assert "MatMulInteger" in [node.op_type for node in else_graph.node]
    assert initializer_names(then_graph) == {"w_inner_quantized", "w_inner_scale"}
    assert initializer_names(quantized.graph) == {"w_outer_quantized", "w_outer_scale"}
    graphs = {node.name: node.graph for node in report.quantized_nodes}
    assert graphs == {"then_mm": "main/branch.then_branch", "else_mm": "main/branch.else_branch"}
    x = rng.normal(0, 1, (2, 5)).astype(np.float32)
    for condition in (True, False):
        assert_close_to_fp32(model, quantized, {"cond": np.array(condition), "x": x})


def test_weight_inside_loop_body(rng):
    w = rng.normal(0, 0.3, (4, 4)).astype(np.float32)
    body = helper.make_graph(
        [helper.make_node("MatMul", ["state", "w"], ["product"], name="body_mm"),
         helper.make_node("Tanh", ["product"], ["next_state"], name="body_tanh"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         float_input("state", [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         float_input("next_state", [1, 4])])
    loop = helper.make_node("Loop", ["trip_count", "", "x"], ["y"], name="loop", body=body)
    model = make_model([loop], [helper.make_tensor_value_info("trip_count", TensorProto.INT64, []),
                                float_input("x", [1, 4])],
                       [float_input("y", [1, 4])], [initializer(w, "w")])
    quantized, report = quantize_dynamic(model)
    body_ops = [node.op_type for node in quantized.graph.node[0].attribute[0].g.node]
    assert "MatMulInteger" in body_ops
    assert report.quantized_nodes[0].graph == "main/loop.body"
    assert_close_to_fp32(model, quantized, {"trip_count": np.array(3, np.int64),
                                            "x": rng.normal(0, 1, (1, 4)).astype(np.float32)})


def test_opset_11_model_upgraded(rng):
    w = rng.normal(0, 0.5, (8, 5)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["logits"], name="fc"),
             helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
             helper.make_node("Unsqueeze", ["y"], ["y3"], name="unsqueeze", axes=[1])]
    model = make_model(nodes, [float_input("x", [None, 8])], [float_input("y3", [None, 1, 5])],
                       [initializer(w, "w")], opset=11)
    model.ir_version = 6
    quantized, report = quantize_dynamic(model)
    assert report.opset == 13
    assert [entry.version for entry in quantized.opset_import if entry.domain == ""] == [13]
    assert quantized.ir_version >= 7
    assert "MatMulInteger" in op_types(quantized)
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (4, 8)).astype(np.float32)})


def test_opset_9_model_upgraded(rng):
    w = rng.normal(0, 0.5, (8, 5)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["logits"], name="fc"),
             helper.make_node("Softmax", ["logits"], ["y"], name="softmax")]
    model = make_model(nodes, [float_input("x", [None, 8])], [float_input("y", [None, 5])],
                       [initializer(w, "w")], opset=9)
    model.ir_version = 4
    quantized, report = quantize_dynamic(model)
    assert report.opset == 13
    assert "MatMulInteger" in op_types(quantized)
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (4, 8)).astype(np.float32)})


def test_symbolic_batch_without_value_info(rng):
    model = mlp_model(rng, batch="N")
    assert not model.graph.value_info
    quantized, _ = quantize_dynamic(model)
    assert quantized.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    for batch in (1, 7):
        assert_close_to_fp32(model, quantized,
                             {"x": rng.normal(0, 1, (batch, 16)).astype(np.float32)})


def test_input_file_byte_identical(rng, tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save_model(mlp_model(rng), str(path))
    before = path.read_bytes()
    quantized, _ = quantize_dynamic(path)
    assert "MatMulInteger" in op_types(quantized)
    assert path.read_bytes() == before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["model.onnx"]


def test_caller_model_not_modified(rng):
    model = mlp_model(rng)
    before = model.SerializeToString()
    quantize_dynamic(model)
    assert model.SerializeToString() == before


def test_bytes_source(rng):
    quantized, _ = quantize_dynamic(mlp_model(rng).SerializeToString())
    assert "MatMulInteger" in op_types(quantized)


def test_generated_names_avoid_collisions(rng):
    nodes = [helper.make_node("Relu", ["x"], ["x_quantized"], name="mm_MatMulInteger"),
             helper.make_node("Add", ["x_quantized", "w_scale"], ["x_scale"], name="add"),
             helper.make_node("MatMul", ["x_scale", "w"], ["y"], name="mm"),
             helper.make_node("MatMul", ["x_scale", "w_quantized"], ["z"], name="mm2")]
    model = make_model(nodes, [float_input("x", [2, 4])],
                       [float_input("y", [2, 3]), float_input("z", [2, 3])],
                       [initializer(rng.normal(0, 1, (4, 3)).astype(np.float32), "w"),
                        initializer(rng.normal(0, 1, (4, 3)).astype(np.float32), "w_quantized"),
                        initializer(rng.normal(0, 1, (4,)).astype(np.float32), "w_scale")])
    quantized, report = quantize_dynamic(model)
    assert len(report.quantized_nodes) == 2
    node_names = [node.name for node in quantized.graph.node]
    assert len(node_names) == len(set(node_names))
    assert "mm_MatMulInteger_1" in node_names
    produced = [name for node in quantized.graph.node for name in node.output]
    produced += [init.name for init in quantized.graph.initializer]
    assert len(produced) == len(set(produced))
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (2, 4)).astype(np.float32)})


def test_exclude_node_and_op_types(rng):
    model = mlp_model(rng)
    quantized, report = quantize_dynamic(model, exclude_nodes=["fc1"])
    assert "MatMul" in op_types(quantized)
    assert "w1" in initializer_names(quantized.graph)
    decision = next(node for node in report.nodes if node.name == "fc1")
    assert decision.status == "skipped"
    assert decision.reason == "excluded by name"

    quantized, report = quantize_dynamic(model, op_types=["MatMul"])
    assert "Gemm" in op_types(quantized)
    assert [node.name for node in report.quantized_nodes] == ["fc1"]


def test_bad_options_raise_config_error(rng):
    model = mlp_model(rng)
    with pytest.raises(ConfigError, match="Softmax"):
        quantize_dynamic(model, op_types=["Softmax"])
    with pytest.raises(ConfigError, match="no_such_node"):
        quantize_dynamic(model, exclude_nodes=["no_such_node"])


def test_nan_weight_error_names_initializer(rng):
    w = rng.normal(0, 1, (4, 3)).astype(np.float32)
    w[2, 1] = np.nan
    node = helper.make_node("MatMul", ["x", "bad_weight"], ["y"], name="mm")
    model = make_model([node], [float_input("x", [2, 4])], [float_input("y", [2, 3])],
                       [initializer(w, "bad_weight")])
    with pytest.raises(QuantizationError, match="bad_weight"):
        quantize_dynamic(model)


def test_missing_file_raises_invalid_model(tmp_path):
    with pytest.raises(InvalidModelError, match="not found"):
        quantize_dynamic(tmp_path / "missing.onnx")


def test_report_contents(rng):
    model = mlp_model(rng)
    quantized, report = quantize_dynamic(model)
    data = json.loads(report.to_json())
    assert data["fp32_bytes"] == len(model.SerializeToString())
    assert data["int8_bytes"] == len(quantized.SerializeToString())
    assert data["compression_ratio"] == pytest.approx(data["fp32_bytes"] / data["int8_bytes"])
    assert [node["name"] for node in data["nodes"]] == ["fc1", "fc1_bias", "relu", "fc2"]
    assert [node["status"] for node in data["nodes"]] == ["quantized", "skipped", "skipped",
                                                          "quantized"]
    assert all(node["reason"] for node in data["nodes"] if node["status"] == "skipped")
    weights = {weight["name"]: weight for weight in data["weights"]}
    assert weights["w1"]["granularity"] == "per_channel"
    assert weights["w1"]["int8_bytes"] == 16 * 32 + 4 * 32
    assert weights["w2"]["transposed"] is True
    assert report.to_dict() == data


def test_every_output_graph_passes_checker(rng):
    quantized, _ = quantize_dynamic(mlp_model(rng))
    onnx.checker.check_model(quantized, full_check=True)
    assert sum(1 for _ in iter_graphs(quantized.graph)) == 1


def test_ir_version_3_initializers_are_constants(rng):
    model = mlp_model(rng)
    model.graph.input.extend(
        helper.make_tensor_value_info(init.name, TensorProto.FLOAT, list(init.dims))
        for init in model.graph.initializer)
    model.ir_version = 3
    model.opset_import[0].version = 8
    quantized, report = quantize_dynamic(model)
    assert len(report.quantized_nodes) == 2
    assert [value.name for value in quantized.graph.input] == ["x"]
    x = rng.normal(0, 1, (3, 16)).astype(np.float32)
    expected = run_onnxruntime(mlp_model(np.random.default_rng(20261204)), {"x": x})[0]
    assert cosine(run_onnxruntime(quantized, {"x": x})[0], expected) > 0.999


def test_external_data_model(rng, tmp_path):
    model = mlp_model(rng)
    path = tmp_path / "external.onnx"
    # onnx.save_model rewrites the tensors it moves out of the proto, so save a copy.
    onnx.save_model(onnx.ModelProto.FromString(model.SerializeToString()), str(path),
                    save_as_external_data=True, location="external.data", size_threshold=0)
    assert (tmp_path / "external.data").stat().st_size > 0
    quantized, _ = quantize_dynamic(path)
    assert all(not init.external_data for init in quantized.graph.initializer)
    assert_close_to_fp32(model, quantized, {"x": rng.normal(0, 1, (3, 16)).astype(np.float32)})
