"""The bundled MLP and CNN, FP32 and INT8, on fragment and compute passes, against NumPy."""

from __future__ import annotations

import moderngl
import numpy as np
import onnx
import pytest
from glx_compare import MIN_COSINE, compare_outputs

from alice_gl.bundled import BundledModel
from alice_gl.calibration import quantize_static
from alice_gl.executor import NumpySession, run_node
from alice_gl.gl import FragmentProgram, GLContext
from alice_gl.gl_executor import GLSession

BATCH = 24
CASES = [(model, precision, passes) for model in ("mlp_digits", "cnn_digits")
         for precision in ("fp32", "int8") for passes in ("fragment", "compute")]


def _model(name: str, precision: str, bundled: dict[str, BundledModel],
           int8_models: dict[str, onnx.ModelProto]) -> onnx.ModelProto | str:
    return int8_models[name] if precision == "int8" else str(bundled[name].model_path)


@pytest.fixture(scope="module")
def bundled(mlp_digits: BundledModel, cnn_digits: BundledModel) -> dict[str, BundledModel]:
    return {"mlp_digits": mlp_digits, "cnn_digits": cnn_digits}


@pytest.fixture
def pass_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every fragment draw and compute dispatch issued during the test."""
    counter = [0]
    draw, dispatch = FragmentProgram.draw, moderngl.ComputeShader.run

    def counted_draw(self: FragmentProgram) -> None:
        counter[0] += 1
        draw(self)

    def counted_dispatch(self: moderngl.ComputeShader, *args: int, **kwargs: int) -> None:
        counter[0] += 1
        dispatch(self, *args, **kwargs)

    monkeypatch.setattr(FragmentProgram, "draw", counted_draw)
    monkeypatch.setattr(moderngl.ComputeShader, "run", counted_dispatch)
    return counter


@pytest.mark.parametrize(("name", "precision", "passes"), CASES)
def test_bundled_matches_numpy(name: str, precision: str, passes: str,
                               bundled: dict[str, BundledModel],
                               int8_models: dict[str, onnx.ModelProto],
                               contexts: dict[str, GLContext], pass_counter: list[int]) -> None:
    model = _model(name, precision, bundled, int8_models)
    entry = bundled[name]
    feeds = {entry.input_name: entry.test_inputs[:BATCH]}
    reference = NumpySession(model).run(feeds)

    with GLSession(model, context=contexts[passes], passes=passes) as session:
        before = pass_counter[0]
        outputs = session.run(feeds)
        issued = pass_counter[0] - before
        profile = session.profile()

    for similarity, _ in compare_outputs(f"{name} {precision} {passes}", reference,
                                         outputs).values():
        assert similarity >= MIN_COSINE
    assert profile.readback_count == len(reference)
    assert profile.upload_count == 1
    assert profile.partitions == []
    assert profile.partition_readbacks == 0
    assert profile.pass_count == issued


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_mlp_fusion_keeps_one_pass_group_per_layer(passes: str, mlp_digits: BundledModel,
                                                  int8_models: dict[str, onnx.ModelProto],
                                                  contexts: dict[str, GLContext]) -> None:
    with GLSession(int8_models["mlp_digits"], context=contexts[passes], passes=passes,
                   input_shapes={mlp_digits.input_name: (4, 64)}) as session:
        kinds = [step.kind for step in session.plan.steps]
    assert kinds.count("int8_matmul") == 3
    assert kinds.count("quantize") == 3
    assert "numpy" not in kinds


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_mlp_int8_accumulators_bit_exact(passes: str, mlp_digits: BundledModel,
                                         int8_models: dict[str, onnx.ModelProto],
                                         contexts: dict[str, GLContext]) -> None:
    model = int8_models["mlp_digits"]
    feeds = {mlp_digits.input_name: mlp_digits.test_inputs[:BATCH]}
    with GLSession(model, context=contexts[passes], passes=passes, capture_int8=True) as session:
        session.run(feeds)
        captures = session.int8_captures()
        steps = {step.name: step for step in session.plan.steps if step.captures}
        constants = session.plan.static.constants
        opset = session.graph.opset

    assert len(captures) == 3
    for name, capture in captures.items():
        node = steps[name].nodes[0]
        assert node.op_type == "MatMulInteger"
        expected = run_node(node.proto, [capture.x_q, constants[node.inputs[1]],
                                         np.uint8(capture.x_zero_point)], opset)[0]
        assert capture.accumulator.dtype == np.int32
        assert np.array_equal(capture.accumulator, expected), name

    # The first layer quantizes the model input itself, so NumPy's accumulator is the same.
    first = next(iter(steps.values())).nodes[0]
    numpy_accumulator = NumpySession(model).run(feeds, output_names=[first.outputs[0]])
    assert np.array_equal(captures[next(iter(steps))].accumulator,
                          numpy_accumulator[first.outputs[0]])


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_cnn_int8_accumulators_bit_exact(passes: str, cnn_digits: BundledModel,
                                         int8_models: dict[str, onnx.ModelProto],
                                         contexts: dict[str, GLContext]) -> None:
    model = int8_models["cnn_digits"]
    feeds = {cnn_digits.input_name: cnn_digits.test_inputs[:8]}
    with GLSession(model, context=contexts[passes], passes=passes, capture_int8=True) as session:
        session.run(feeds)
        captures = session.int8_captures()
        steps = {step.name: step for step in session.plan.steps if step.captures}
        view = session.plan.view
        opset = session.graph.opset

    conv_names = [name for name, step in steps.items() if step.kind == "int8_conv"]
    assert len(conv_names) == 5
    for name in conv_names:
        conv = steps[name].nodes[0]
        w_dequantize = view.producer(conv.inputs[1])
        w_q = view.constant(w_dequantize.inputs[0])
        integer_conv = onnx.helper.make_node("ConvInteger", ["x", "w", "x_zero_point"], ["y"],
                                             **conv.attributes)
        capture = captures[name]
        expected = run_node(integer_conv, [capture.x_q, w_q, np.uint8(capture.x_zero_point)],
                            opset)[0]
        assert np.array_equal(capture.accumulator, expected), name


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_static_qdq_model_runs_without_partitions(name: str, bundled: dict[str, BundledModel],
                                                  contexts: dict[str, GLContext]) -> None:
    entry = bundled[name]
    model, _ = quantize_static(str(entry.model_path),
                               {entry.input_name: entry.test_inputs[:64]}, progress=False)
    feeds = {entry.input_name: entry.test_inputs[:BATCH]}
    reference = NumpySession(model).run(feeds)
    with GLSession(model, context=contexts["fragment"], passes="fragment") as session:
        outputs = session.run(feeds)
        profile = session.profile()
        qdq_steps = [step for step in session.plan.steps
                     if [node.op_type for node in step.nodes]
                     == ["QuantizeLinear", "DequantizeLinear"]]
    for similarity, _ in compare_outputs(f"{name} static", reference, outputs).values():
        assert similarity >= MIN_COSINE
    assert profile.partitions == []
    assert qdq_steps
