"""Single ops and small fused graphs on GL against the NumPy executor."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from glx_compare import MIN_COSINE, cosine
from glx_models import chain_model
from onnx import TensorProto, helper, numpy_helper

from alice_gl.executor import NumpySession
from alice_gl.gl import GLContext
from alice_gl.gl_executor import GLSession, RunProfile
from alice_gl.quantization import quantize_dynamic


def _tensor(name: str, shape: tuple[int, ...] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                         None if shape is None else list(shape))


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], ctx: GLContext,
           passes: str = "fragment", expected_kinds: set[str] | None = None,
           atol: float = 1e-4) -> tuple[list[str], RunProfile]:
    """Run ``model`` on GL and NumPy, compare, and return the step kinds and the profile."""
    reference = NumpySession(model).run(feeds)
    with GLSession(model, context=ctx, passes=passes) as session:
        outputs = session.run(feeds)
        steps = [step.kind for step in session.plan.steps]
        profile = session.profile()
    kinds = set(steps)
    for name, expected in reference.items():
        assert outputs[name].shape == expected.shape, name
        assert cosine(expected, outputs[name]) >= MIN_COSINE, name
        np.testing.assert_allclose(outputs[name], expected, atol=atol, rtol=1e-4)
    assert "numpy" not in kinds, kinds
    if expected_kinds is not None:
        assert expected_kinds <= kinds, kinds
    return steps, profile


CONV_CASES = {
    "pads_strides": dict(x=(2, 3, 9, 8), w=(4, 3, 3, 3), pads=[1, 0, 2, 1], strides=[2, 1]),
    "dilations": dict(x=(1, 2, 10, 10), w=(3, 2, 3, 2), dilations=[2, 3]),
    "groups": dict(x=(1, 6, 7, 7), w=(4, 3, 3, 3), group=2, pads=[1, 1, 1, 1]),
    "depthwise": dict(x=(1, 5, 6, 6), w=(5, 1, 3, 3), group=5, pads=[1, 1, 1, 1]),
    "same_upper": dict(x=(1, 2, 7, 5), w=(2, 2, 4, 3), auto_pad="SAME_UPPER", strides=[2, 2]),
    "conv1d": dict(x=(2, 3, 11), w=(4, 3, 3), pads=[1, 2], strides=[2]),
    "four_channel_blocks": dict(x=(2, 8, 6, 5), w=(8, 8, 3, 3), pads=[1, 1, 0, 1]),
    "four_channel_groups": dict(x=(1, 8, 5, 5), w=(8, 4, 3, 3), group=2, strides=[2, 1]),
}


@pytest.mark.parametrize("passes", ["fragment", "compute"])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_attributes(case: str, passes: str, gl43_context: GLContext,
                         rng: np.random.Generator) -> None:
    spec = dict(CONV_CASES[case])
    x_shape, w_shape = spec.pop("x"), spec.pop("w")
    weights = rng.normal(size=w_shape).astype(np.float32)
    bias = rng.normal(size=w_shape[0]).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["conv"], **spec)
    relu = helper.make_node("LeakyRelu", ["conv"], ["y"], alpha=0.2)
    model = chain_model([node, relu], [_tensor("x", x_shape)], [_tensor("y", None)],
                        [_const("w", weights), _const("b", bias)])
    feeds = {"x": rng.normal(size=x_shape).astype(np.float32)}
    _check(model, feeds, gl43_context, passes, {"conv"})


def test_conv_batch_norm_folded(gl43_context: GLContext, rng: np.random.Generator) -> None:
    channels = 4
    nodes = [helper.make_node("Conv", ["x", "w"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["conv", "g", "b", "m", "v"], ["bn"],
                              epsilon=1e-3),
             helper.make_node("Clip", ["bn", "lo", "hi"], ["y"])]
    initializers = [_const("w", rng.normal(size=(channels, 2, 3, 3)).astype(np.float32)),
                    _const("g", rng.uniform(0.5, 2, channels).astype(np.float32)),
                    _const("b", rng.normal(size=channels).astype(np.float32)),
                    _const("m", rng.normal(size=channels).astype(np.float32)),
                    _const("v", rng.uniform(0.5, 2, channels).astype(np.float32)),
                    _const("lo", np.float32(-0.5)), _const("hi", np.float32(1.5))]
    model = chain_model(nodes, [_tensor("x", (1, 2, 5, 5))], [_tensor("y", None)],
                        initializers)
    steps, _ = _check(model, {"x": rng.normal(size=(1, 2, 5, 5)).astype(np.float32)},
                      gl43_context)
    assert steps == ["conv"]


def test_elementwise_chain_fuses_with_broadcast(gl43_context: GLContext,
                                                rng: np.random.Generator) -> None:
    nodes = [helper.make_node("Add", ["x", "row"], ["a"]),
             helper.make_node("Mul", ["a", "z"], ["b"]),
             helper.make_node("Sigmoid", ["b"], ["c"]),
             helper.make_node("Sub", ["c", "half"], ["d"]),
             helper.make_node("HardSwish", ["d"], ["e"]),
             helper.make_node("Tanh", ["e"], ["y"])]
    model = chain_model(nodes, [_tensor("x", (2, 3, 4)), _tensor("z", (3, 1))],
                        [_tensor("y", None)],
                        [_const("row", rng.normal(size=4).astype(np.float32)),
                         _const("half", np.float32(0.5))])
    feeds = {"x": rng.normal(size=(2, 3, 4)).astype(np.float32),
             "z": rng.normal(size=(3, 1)).astype(np.float32)}
    steps, profile = _check(model, feeds, gl43_context)
    assert steps == ["elementwise"]
    assert profile.pass_count == 1


@pytest.mark.parametrize("op_type", ["Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
                                     "LeakyRelu", "Elu", "Softplus", "Abs", "Neg", "Exp"])
def test_unary_activations(op_type: str, gl43_context: GLContext,
                           rng: np.random.Generator) -> None:
    model = chain_model([helper.make_node(op_type, ["x"], ["y"])], [_tensor("x", (3, 7))],
                        [_tensor("y", None)])
    x = rng.normal(scale=3.0, size=(3, 7)).astype(np.float32)
    _check(model, {"x": x}, gl43_context, expected_kinds={"elementwise"})


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"])
def test_binary_broadcast(op_type: str, gl43_context: GLContext,
                          rng: np.random.Generator) -> None:
    model = chain_model([helper.make_node(op_type, ["x", "z"], ["y"])],
                        [_tensor("x", (2, 1, 5)), _tensor("z", (3, 1))], [_tensor("y", None)])
    feeds = {"x": rng.normal(size=(2, 1, 5)).astype(np.float32),
             "z": rng.uniform(0.5, 2.0, size=(3, 1)).astype(np.float32)}
    _check(model, feeds, gl43_context, expected_kinds={"elementwise"})


@pytest.mark.parametrize("passes", ["fragment", "compute"])
@pytest.mark.parametrize(("trans_a", "trans_b"), [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_transposes(trans_a: int, trans_b: int, passes: str, gl43_context: GLContext,
                         rng: np.random.Generator) -> None:
    m, k, n = 5, 7, 3
    a_shape = (k, m) if trans_a else (m, k)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=trans_a, transB=trans_b,
                            alpha=0.5, beta=2.0)
    model = chain_model([node], [_tensor("a", a_shape)], [_tensor("y", None)],
                        [_const("b", b), _const("c", rng.normal(size=n).astype(np.float32))])
    _check(model, {"a": rng.normal(size=a_shape).astype(np.float32)}, gl43_context, passes,
           {"matmul"})


def test_batched_matmul_two_runtime_operands(gl43_context: GLContext,
                                             rng: np.random.Generator) -> None:
    model = chain_model([helper.make_node("MatMul", ["a", "b"], ["y"])],
                        [_tensor("a", (2, 3, 4, 5)), _tensor("b", (2, 3, 5, 6))],
                        [_tensor("y", None)])
    feeds = {"a": rng.normal(size=(2, 3, 4, 5)).astype(np.float32),
             "b": rng.normal(size=(2, 3, 5, 6)).astype(np.float32)}
    _check(model, feeds, gl43_context, "compute", {"matmul"})


POOL_CASES = {
    "max_pads": ("MaxPool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])),
    "max_ceil": ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    "max_dilated": ("MaxPool", dict(kernel_shape=[2, 2], dilations=[2, 2])),
    "avg_exclude_pad": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    "avg_include_pad": ("AveragePool", dict(kernel_shape=[3, 2], pads=[1, 0, 1, 1],
                                            count_include_pad=1)),
    "global_avg": ("GlobalAveragePool", {}),
    "global_max": ("GlobalMaxPool", {}),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pooling(case: str, gl43_context: GLContext, rng: np.random.Generator) -> None:
    op_type, attributes = POOL_CASES[case]
    model = chain_model([helper.make_node(op_type, ["x"], ["y"], **attributes)],
                        [_tensor("x", (2, 3, 7, 6))], [_tensor("y", None)])
    _check(model, {"x": rng.normal(size=(2, 3, 7, 6)).astype(np.float32)}, gl43_context,
           expected_kinds={"pool"})


@pytest.mark.parametrize(("op_type", "opset", "axis"),
                         [("Softmax", 13, 1), ("Softmax", 11, 1), ("LogSoftmax", 13, -1),
                          ("Softmax", 13, 0)])
def test_softmax_axis_rules(op_type: str, opset: int, axis: int, gl43_context: GLContext,
                            rng: np.random.Generator) -> None:
    model = chain_model([helper.make_node(op_type, ["x"], ["y"], axis=axis)],
                        [_tensor("x", (2, 3, 4))], [_tensor("y", None)], opset=opset)
    _check(model, {"x": rng.normal(size=(2, 3, 4)).astype(np.float32)}, gl43_context,
           expected_kinds={"softmax"})


def test_layer_normalization(gl43_context: GLContext, rng: np.random.Generator) -> None:
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=-2,
                            epsilon=1e-3)
    model = chain_model([node], [_tensor("x", (2, 3, 4))], [_tensor("y", None)],
                        [_const("scale", rng.normal(size=(3, 4)).astype(np.float32)),
                         _const("bias", rng.normal(size=(4,)).astype(np.float32))])
    _check(model, {"x": rng.normal(size=(2, 3, 4)).astype(np.float32)}, gl43_context,
           expected_kinds={"layer_norm"})


def test_data_movement_ops(gl43_context: GLContext, rng: np.random.Generator) -> None:
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Gather", ["t", "indices"], ["g"], axis=3),
             helper.make_node("Concat", ["g", "t"], ["c"], axis=3),
             helper.make_node("Resize", ["c", "", "scales"], ["r"], mode="nearest"),
             helper.make_node("Reshape", ["r", "shape"], ["y"])]
    initializers = [_const("indices", np.array([2, 0], dtype=np.int64)),
                    _const("scales", np.array([1, 2, 1.5, 1], dtype=np.float32)),
                    _const("shape", np.array([2, -1], dtype=np.int64))]
    model = chain_model(nodes, [_tensor("x", (2, 3, 4, 5))], [_tensor("y", None)],
                        initializers)
    steps, _ = _check(model, {"x": rng.normal(size=(2, 3, 4, 5)).astype(np.float32)},
                      gl43_context)
    assert steps == ["gather", "gather", "concat", "gather", "copy"]


def test_batch_norm_alone_and_flatten_alias(gl43_context: GLContext,
                                            rng: np.random.Generator) -> None:
    nodes = [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["bn"]),
             helper.make_node("Flatten", ["bn"], ["y"], axis=2)]
    initializers = [_const(name, rng.uniform(0.5, 1.5, 3).astype(np.float32))
                    for name in ("g", "b", "m", "v")]
    model = chain_model(nodes, [_tensor("x", (2, 3, 4, 5))], [_tensor("y", None)],
                        initializers)
    steps, _ = _check(model, {"x": rng.normal(size=(2, 3, 4, 5)).astype(np.float32)},
                      gl43_context)
    assert steps == ["elementwise", "alias"]


def test_one_readback_per_output(gl43_context: GLContext, rng: np.random.Generator) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Exp", ["a"], ["b"]),
             helper.make_node("Neg", ["b"], ["c"])]
    model = chain_model(nodes, [_tensor("x", (4, 4))], [_tensor("a", None), _tensor("c", None)])
    with GLSession(model, context=gl43_context) as session:
        outputs = session.run({"x": rng.normal(size=(4, 4)).astype(np.float32)})
        assert sorted(outputs) == ["a", "c"]
        assert session.profile().readback_count == 2
        outputs = session.run({"x": rng.normal(size=(4, 4)).astype(np.float32)})
        assert session.profile().readback_count == 2


def test_dropout_mask_output_stays_on_numpy(gl43_context: GLContext,
                                            rng: np.random.Generator) -> None:
    nodes = [helper.make_node("Dropout", ["x"], ["y", "mask"])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4]),
               helper.make_tensor_value_info("mask", TensorProto.BOOL, [3, 4])]
    model = chain_model(nodes, [_tensor("x", (3, 4))], outputs)
    feeds = {"x": rng.normal(size=(3, 4)).astype(np.float32)}
    reference = NumpySession(model).run(feeds)
    with GLSession(model, context=gl43_context) as session:
        result = session.run(feeds)
        kinds = [step.kind for step in session.plan.steps]
    assert kinds == ["numpy"]
    np.testing.assert_array_equal(result["y"], reference["y"])
    np.testing.assert_array_equal(result["mask"], reference["mask"])


@pytest.mark.parametrize(("trans_a", "trans_b", "alpha", "beta"),
                         [(0, 1, 0.5, 2.0), (1, 0, 1.0, 1.0), (0, 0, 1.5, 0.0)])
def test_int8_gemm_attribute_chains(trans_a: int, trans_b: int, alpha: float, beta: float,
                                    gl43_context: GLContext, rng: np.random.Generator) -> None:
    m, k, n = 6, 20, 9
    a_shape = (k, m) if trans_a else (m, k)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["g"], transA=trans_a, transB=trans_b,
                            alpha=alpha, beta=beta)
    relu = helper.make_node("Relu", ["g"], ["y"])
    fp32 = chain_model([node, relu], [_tensor("a", a_shape)], [_tensor("y", None)],
                       [_const("b", b), _const("c", rng.normal(size=n).astype(np.float32))])
    model, _ = quantize_dynamic(fp32)
    feeds = {"a": rng.normal(size=a_shape).astype(np.float32)}
    steps, profile = _check(model, feeds, gl43_context, "compute", {"int8_matmul", "quantize"})
    assert steps.count("int8_matmul") == 1
    assert profile.partitions == []


CONV_TRANSPOSE_CASES = {
    "strides_pads": dict(x=(2, 3, 4, 5), w=(3, 4, 3, 3), strides=[2, 2], pads=[1, 0, 1, 1]),
    "output_padding": dict(x=(1, 2, 3, 3), w=(2, 3, 3, 2), strides=[2, 3],
                           output_padding=[1, 2]),
    "dilations_groups": dict(x=(1, 4, 4, 4), w=(4, 2, 2, 3), group=2, dilations=[2, 1]),
    "conv_transpose_1d": dict(x=(2, 3, 6), w=(3, 2, 4), strides=[3], pads=[1, 2]),
}


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("case", sorted(CONV_TRANSPOSE_CASES))
def test_conv_transpose_attributes(case: str, precision: str, gl43_context: GLContext,
                                   rng: np.random.Generator) -> None:
    spec = dict(CONV_TRANSPOSE_CASES[case])
    x_shape, w_shape = spec.pop("x"), spec.pop("w")
    group = spec.get("group", 1)
    weights = rng.normal(size=w_shape).astype(np.float32)
    bias = rng.normal(size=w_shape[1] * group).astype(np.float32)
    nodes = [helper.make_node("ConvTranspose", ["x", "w", "b"], ["t"], **spec),
             helper.make_node("Relu", ["t"], ["y"])]
    model = chain_model(nodes, [_tensor("x", x_shape)], [_tensor("y", None)],
                        [_const("w", weights), _const("b", bias)])
    kind = "conv_transpose"
    if precision == "int8":
        model, _ = quantize_dynamic(model)
        kind = "int8_conv_transpose"
    feeds = {"x": rng.normal(size=x_shape).astype(np.float32)}
    steps, _ = _check(model, feeds, gl43_context, "compute", {kind})
    assert steps.count(kind) == 1
