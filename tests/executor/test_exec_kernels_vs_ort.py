"""Kernels against onnxruntime on attribute combinations the ONNX node cases leave out:
grouped, dilated and strided convolutions, ceil_mode pooling, recurrent layers with
sequence_lens, and Resize modes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import helper

from alice_gl.executor import NumpySession, run_node


def _compare(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int = 17,
             rtol: float = 1e-4, atol: float = 1e-5) -> None:
    infos = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                           value.shape) for name, value in feeds.items()]
    outputs = [onnx.ValueInfoProto(name=name) for name in node.output if name]
    graph = helper.make_graph([node], "g", infos, outputs)
    # Shape inference fills in the output types, which onnx.checker requires.
    model = onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    oracle = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                          providers=["CPUExecutionProvider"]).run(None, feeds)
    results = NumpySession(model).run(feeds)
    for output, reference in zip(outputs, oracle, strict=True):
        actual = results[output.name]
        assert actual.dtype == reference.dtype, output.name
        np.testing.assert_allclose(actual, reference, rtol=rtol, atol=atol, err_msg=output.name)


CONV_CASES = {
    "grouped_strided_padded": ((2, 6, 9, 8), (4, 3, 3, 2), dict(group=2, strides=[2, 1],
                                                                pads=[1, 0, 2, 1])),
    "depthwise_dilated": ((1, 4, 10, 10), (8, 1, 3, 3), dict(group=4, dilations=[2, 3])),
    "same_upper": ((1, 3, 7, 6), (5, 3, 4, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "same_lower": ((1, 3, 7, 6), (5, 3, 4, 3), dict(auto_pad="SAME_LOWER", strides=[2, 3])),
    "valid": ((2, 3, 7, 6), (2, 3, 3, 3), dict(auto_pad="VALID")),
    "conv1d": ((2, 3, 11), (4, 3, 3), dict(strides=[2], pads=[1, 2])),
    "conv3d": ((1, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(pads=[1, 0, 1, 0, 1, 1])),
}


@pytest.mark.parametrize("case", CONV_CASES, ids=list(CONV_CASES))
def test_exec_conv_vs_ort(rng, case) -> None:
    x_shape, w_shape, attributes = CONV_CASES[case]
    feeds = {"x": rng.normal(size=x_shape).astype(np.float32),
             "w": rng.normal(size=w_shape).astype(np.float32),
             "b": rng.normal(size=w_shape[0]).astype(np.float32)}
    _compare(helper.make_node("Conv", ["x", "w", "b"], ["y"], **attributes), feeds)


CONV_TRANSPOSE_CASES = {
    "grouped_output_padding": ((2, 6, 5, 4), (6, 2, 3, 2),
                               dict(group=3, strides=[2, 3], pads=[1, 0, 1, 1],
                                    output_padding=[1, 2])),
    "dilated": ((1, 2, 4, 4), (2, 3, 3, 3), dict(dilations=[2, 1], strides=[1, 2])),
    "same_upper": ((1, 2, 4, 5), (2, 3, 3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "output_shape": ((1, 2, 4, 5), (2, 3, 3, 3), dict(output_shape=[9, 10], strides=[2, 2])),
    "conv_transpose1d": ((2, 3, 6), (3, 2, 4), dict(strides=[3])),
}


@pytest.mark.parametrize("case", CONV_TRANSPOSE_CASES, ids=list(CONV_TRANSPOSE_CASES))
def test_exec_conv_transpose_vs_ort(rng, case) -> None:
    x_shape, w_shape, attributes = CONV_TRANSPOSE_CASES[case]
    group = attributes.get("group", 1)
    feeds = {"x": rng.normal(size=x_shape).astype(np.float32),
             "w": rng.normal(size=w_shape).astype(np.float32),
             "b": rng.normal(size=w_shape[1] * group).astype(np.float32)}
    _compare(helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attributes), feeds)


POOL_CASES = {
    "max_ceil": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "max_pads_dilations": ("MaxPool", dict(kernel_shape=[2, 3], pads=[1, 1, 0, 1],
                                           dilations=[2, 1])),
    "max_same_upper": ("MaxPool", dict(kernel_shape=[3, 2], strides=[2, 2],
                                       auto_pad="SAME_UPPER")),
    "average_exclude_pad": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    "average_include_pad": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 2, 1, 0],
                                                count_include_pad=1)),
    "average_ceil": ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1,
                                         pads=[1, 0, 1, 0])),
    "average_ceil_include_pad": ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2],
                                                     ceil_mode=1, pads=[1, 1, 1, 1],
                                                     count_include_pad=1)),
}


@pytest.mark.parametrize("case", POOL_CASES, ids=list(POOL_CASES))
def test_exec_pool_vs_ort(rng, case) -> None:
    op_type, attributes = POOL_CASES[case]
    feeds = {"x": rng.normal(size=(2, 3, 8, 7)).astype(np.float32)}
    _compare(helper.make_node(op_type, ["x"], ["y"], **attributes), feeds, opset=19)


def test_exec_max_pool_indices_vs_ort(rng) -> None:
    feeds = {"x": rng.normal(size=(2, 3, 7, 6)).astype(np.float32)}
    node = helper.make_node("MaxPool", ["x"], ["y", "indices"], kernel_shape=[3, 2],
                            strides=[2, 2], pads=[1, 0, 1, 1])
    _compare(node, feeds, opset=12)


def _recurrent_feeds(rng, op_type: str, layout: int, directions: int) -> dict[str, np.ndarray]:
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op_type]
    seq_length, batch, input_size, hidden = 5, 3, 4, 6
    x_shape = (batch, seq_length, input_size) if layout else (seq_length, batch, input_size)
    state_shape = (batch, directions, hidden) if layout else (directions, batch, hidden)
    feeds = {
        "X": rng.normal(size=x_shape).astype(np.float32),
        "W": rng.normal(size=(directions, gates * hidden, input_size)).astype(np.float32) / 2,
        "R": rng.normal(size=(directions, gates * hidden, hidden)).astype(np.float32) / 2,
        "B": rng.normal(size=(directions, 2 * gates * hidden)).astype(np.float32) / 2,
        "sequence_lens": np.array([5, 2, 4], dtype=np.int32),
        "initial_h": rng.normal(size=state_shape).astype(np.float32),
    }
    if op_type == "LSTM":
        feeds["initial_c"] = rng.normal(size=state_shape).astype(np.float32)
        feeds["P"] = rng.normal(size=(directions, 3 * hidden)).astype(np.float32) / 2
    return feeds


RECURRENT_CASES = {
    "lstm_bidirectional": ("LSTM", "bidirectional", {}),
    "lstm_reverse": ("LSTM", "reverse", {}),
    "lstm_clip": ("LSTM", "forward", dict(clip=0.5)),
    "lstm_input_forget": ("LSTM", "forward", dict(input_forget=1)),
    "gru_bidirectional": ("GRU", "bidirectional", {}),
    "gru_linear_before_reset": ("GRU", "reverse", dict(linear_before_reset=1)),
    "rnn_bidirectional": ("RNN", "bidirectional", {}),
    "rnn_relu": ("RNN", "forward", dict(activations=["Relu"])),
}


def _recurrent_node(op_type: str, inputs: list[str], layout: int, direction: str,
                    extra: dict) -> onnx.NodeProto:
    outputs = ["Y", "Y_h", "Y_c"] if op_type == "LSTM" else ["Y", "Y_h"]
    return helper.make_node(op_type, inputs, outputs, hidden_size=6, direction=direction,
                            layout=layout, **extra)


@pytest.mark.parametrize("case", RECURRENT_CASES, ids=list(RECURRENT_CASES))
def test_exec_recurrent_vs_ort(rng, case) -> None:
    op_type, direction, extra = RECURRENT_CASES[case]
    directions = 2 if direction == "bidirectional" else 1
    feeds = _recurrent_feeds(rng, op_type, 0, directions)
    _compare(_recurrent_node(op_type, list(feeds), 0, direction, extra), feeds, opset=14)


@pytest.mark.parametrize("op_type", ["LSTM", "GRU"])
def test_exec_recurrent_layout1_transposes(rng, op_type) -> None:
    # onnxruntime 1.32 rejects layout=1, so layout 1 is checked against layout 0 on the same
    # data: X, initial states and outputs only swap their batch and sequence/direction axes.
    feeds = _recurrent_feeds(rng, op_type, 1, 2)
    batchwise = run_node(_recurrent_node(op_type, list(feeds), 1, "bidirectional", {}),
                         list(feeds.values()), 14)
    time_major_feeds = dict(feeds, X=np.swapaxes(feeds["X"], 0, 1),
                            initial_h=np.swapaxes(feeds["initial_h"], 0, 1))
    if op_type == "LSTM":
        time_major_feeds["initial_c"] = np.swapaxes(feeds["initial_c"], 0, 1)
    time_major = run_node(_recurrent_node(op_type, list(feeds), 0, "bidirectional", {}),
                          list(time_major_feeds.values()), 14)

    np.testing.assert_array_equal(batchwise[0], time_major[0].transpose(2, 0, 1, 3))
    for batch_first, direction_first in zip(batchwise[1:], time_major[1:], strict=True):
        np.testing.assert_array_equal(batch_first, np.swapaxes(direction_first, 0, 1))


RESIZE_CASES = {
    "nearest_asymmetric_floor": dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                     nearest_mode="floor"),
    "nearest_half_pixel": dict(mode="nearest"),
    "nearest_align_corners_ceil": dict(mode="nearest",
                                       coordinate_transformation_mode="align_corners",
                                       nearest_mode="ceil"),
    "linear_half_pixel": dict(mode="linear"),
    "linear_pytorch_half_pixel": dict(mode="linear",
                                      coordinate_transformation_mode="pytorch_half_pixel"),
    "linear_align_corners": dict(mode="linear", coordinate_transformation_mode="align_corners"),
    "cubic_exclude_outside": dict(mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5),
}


# Scales give whole output lengths: with a fractional scale * length, align_corners follows the
# onnx reference, which divides by the fractional length, and onnxruntime does not.
@pytest.mark.parametrize("scales", [[1, 1, 2, 1.5], [1, 1, 0.5, 0.75]], ids=["up", "down"])
@pytest.mark.parametrize("case", RESIZE_CASES, ids=list(RESIZE_CASES))
def test_exec_resize_vs_ort(rng, case, scales) -> None:
    feeds = {"x": rng.normal(size=(1, 2, 6, 8)).astype(np.float32),
             "roi": np.array([], dtype=np.float32),
             "scales": np.array(scales, dtype=np.float32)}
    node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], **RESIZE_CASES[case])
    _compare(node, feeds, opset=13)


@pytest.mark.parametrize("values", [
    np.array([0.1, 1e10, -2.5, np.nan, np.inf, -np.inf, 3.0, 1.2345678e-5], np.float32),
    np.array([0.1, 2.0, -1e-300], np.float64),
    np.array([1, -7, 0], np.int64),
], ids=["float32", "float64", "int64"])
def test_exec_cast_to_string_vs_ort(values) -> None:
    infos = [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(values.dtype),
                                           values.shape)]
    outputs = [helper.make_tensor_value_info("y", onnx.TensorProto.STRING, values.shape)]
    node = helper.make_node("Cast", ["x"], ["y"], to=onnx.TensorProto.STRING)
    model = helper.make_model(helper.make_graph([node], "g", infos, outputs),
                              opset_imports=[helper.make_opsetid("", 13)])
    (oracle,) = onnxruntime.InferenceSession(model.SerializeToString(),
                                             providers=["CPUExecutionProvider"]).run(
                                                 None, {"x": values})
    actual = NumpySession(model).run({"x": values})["y"]
    assert actual.dtype == object
    assert actual.tolist() == oracle.tolist()


@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 2.5, 1.5], [1, 1, 0.5, 0.75]],
                         ids=["integer", "fractional", "down"])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_exec_resize10_vs_ort(rng, mode, scales) -> None:
    feeds = {"x": rng.normal(size=(1, 2, 3, 4)).astype(np.float32),
             "scales": np.array(scales, dtype=np.float32)}
    _compare(helper.make_node("Resize", ["x", "scales"], ["y"], mode=mode), feeds, opset=10)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_exec_upsample9_kernel_vs_ort(rng, mode) -> None:
    # The kernel runs through run_node at opset 9: a session would first upgrade the model to
    # opset 13, and onnx's converter turns Upsample(linear) into a half_pixel Resize, which
    # changes the result. onnxruntime rejects Upsample scales below 1, so only upscaling runs.
    x = rng.normal(size=(1, 2, 3, 4)).astype(np.float32)
    scales = np.array([1, 1, 2.5, 1.5], dtype=np.float32)
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode=mode)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape),
                      helper.make_tensor_value_info("scales", onnx.TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2, 7, 6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    (oracle,) = onnxruntime.InferenceSession(model.SerializeToString(),
                                             providers=["CPUExecutionProvider"]).run(
                                                 None, {"x": x, "scales": scales})
    (actual,) = run_node(node, [x, scales], opset=9)
    np.testing.assert_allclose(actual, oracle, rtol=1e-5, atol=1e-6)
