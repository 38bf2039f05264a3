"""NumPy partitions inside a GL plan, memory budget, flat memory and context sharing."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from glx_compare import MIN_COSINE, cosine
from glx_models import chain_model
from onnx import TensorProto, helper, numpy_helper

from alice_gl.bundled import BundledModel
from alice_gl.errors import MemoryLimitExceededError
from alice_gl.executor import NumpySession
from alice_gl.gl import GLContext, TilingConfig
from alice_gl.gl_executor import GLSession


def _erf_model(rng: np.random.Generator) -> onnx.ModelProto:
    """x -> MatMul -> Relu -> Erf (no GL kernel) -> Add -> Softmax."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Erf", ["r"], ["e"], name="erf"),
             helper.make_node("Add", ["e", "bias"], ["a"]),
             helper.make_node("Softmax", ["a"], ["y"], axis=-1)]
    initializers = [numpy_helper.from_array(rng.normal(size=(6, 5)).astype(np.float32), "w"),
                    numpy_helper.from_array(rng.normal(size=5).astype(np.float32), "bias")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 6])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    return chain_model(nodes, inputs, outputs, initializers)


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_partition_runs_and_reports_split(passes: str, gl43_context: GLContext,
                                          rng: np.random.Generator) -> None:
    model = _erf_model(rng)
    feeds = {"x": rng.normal(size=(3, 6)).astype(np.float32)}
    reference = NumpySession(model).run(feeds)["y"]
    with GLSession(model, context=gl43_context, passes=passes) as session:
        output = session.run(feeds)["y"]
        profile = session.profile()
        kinds = [step.kind for step in session.plan.steps]

    assert cosine(reference, output) >= MIN_COSINE
    np.testing.assert_allclose(output, reference, atol=1e-6)
    assert kinds == ["matmul", "numpy", "elementwise", "softmax"]
    assert profile.partitions == [["erf"]]
    assert profile.partition_readbacks == 1
    assert profile.partition_uploads == 1
    assert profile.readback_count == 1


def test_budget_error_before_any_allocation(cnn_digits: BundledModel,
                                            gl43_context: GLContext) -> None:
    before = gl43_context.allocated_bytes()
    textures_before = gl43_context.gl_object_counts()["textures"]
    with pytest.raises(MemoryLimitExceededError, match=r"Memory limit exceeded: [\d.]+MB > 0.01MB"):
        GLSession(str(cnn_digits.model_path), context=gl43_context, max_memory_mb=0.01,
                  input_shapes={cnn_digits.input_name: (64, 1, 8, 8)})
    assert gl43_context.allocated_bytes() == before
    assert gl43_context.gl_object_counts()["textures"] == textures_before


def test_plan_allocates_exactly_planned_bytes(cnn_digits: BundledModel,
                                              int8_models: dict[str, onnx.ModelProto]) -> None:
    with GLContext(profile="gl43") as ctx, GLSession(
            int8_models["cnn_digits"], context=ctx,
            input_shapes={cnn_digits.input_name: (4, 1, 8, 8)}) as session:
        assert ctx.allocated_bytes() == session.plan.memory.bytes_by_kind()


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_huge_concurrent_blocks_plan_per_tile(passes: str, mlp_digits: BundledModel,
                                              int8_models: dict[str, onnx.ModelProto]) -> None:
    shapes = {mlp_digits.input_name: (8, 64)}
    planned = {}
    for blocks in (1, 1_000_000):
        with GLContext(profile="gl43") as ctx, GLSession(
                int8_models["mlp_digits"], context=ctx, passes=passes, input_shapes=shapes,
                tiling=TilingConfig(max_concurrent_blocks=blocks)) as session:
            assert ctx.allocated_bytes() == session.plan.memory.bytes_by_kind()
            planned[blocks] = session.plan.memory.total_bytes
    # At batch 8 every layer of the MLP is one output tile, so it needs one scratch slot.
    assert planned[1_000_000] == planned[1]


@pytest.mark.parametrize("passes", ["fragment", "compute"])
def test_repeated_inference_keeps_memory_flat(passes: str, cnn_digits: BundledModel,
                                              int8_models: dict[str, onnx.ModelProto],
                                              gl43_context: GLContext) -> None:
    feeds = {cnn_digits.input_name: cnn_digits.test_inputs[:4]}
    with GLSession(int8_models["cnn_digits"], context=gl43_context, passes=passes) as session:
        first = session.run(feeds)
        bytes_after_first = gl43_context.allocated_bytes()
        objects_after_first = gl43_context.gl_object_counts()
        for _ in range(4):
            again = session.run(feeds)
        assert gl43_context.allocated_bytes() == bytes_after_first
        assert gl43_context.gl_object_counts() == objects_after_first
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value)


def test_second_model_shares_context_without_leaking(mlp_digits: BundledModel,
                                                     cnn_digits: BundledModel,
                                                     int8_models: dict[str, onnx.ModelProto]
                                                     ) -> None:
    mlp_feeds = {mlp_digits.input_name: mlp_digits.test_inputs[:4]}
    cnn_feeds = {cnn_digits.input_name: cnn_digits.test_inputs[:4]}
    with GLContext(profile="gl43") as ctx:
        with GLSession(int8_models["mlp_digits"], context=ctx) as first:
            expected = first.run(mlp_feeds)
            bytes_one = ctx.allocated_bytes()
            textures_one = ctx.gl_object_counts()["textures"]
            framebuffers_one = ctx.gl_object_counts()["framebuffers"]

            second = GLSession(str(cnn_digits.model_path), context=ctx)
            second.run(cnn_feeds)
            assert ctx.gl_object_counts()["textures"] > textures_one
            second.close()

            assert ctx.allocated_bytes() == bytes_one
            assert ctx.gl_object_counts()["textures"] == textures_one
            assert ctx.gl_object_counts()["framebuffers"] == framebuffers_one
            assert not ctx.closed
            np.testing.assert_array_equal(first.run(mlp_feeds)["probabilities"],
                                          expected["probabilities"])
        assert sum(ctx.allocated_bytes().values()) == 0
        assert ctx.gl_object_counts()["textures"] == 0


def test_symbolic_batch_recompiles_per_shape(mlp_digits: BundledModel,
                                             gl43_context: GLContext) -> None:
    with GLSession(str(mlp_digits.model_path), context=gl43_context) as session:
        assert session.plan is None
        for batch in (3, 5):
            feeds = {mlp_digits.input_name: mlp_digits.test_inputs[:batch]}
            output = session.run(feeds)["probabilities"]
            assert output.shape == (batch, 10)
            assert session.plan.input_shapes == {mlp_digits.input_name: (batch, 64)}


def test_small_texture_side_falls_back_per_node(cnn_digits: BundledModel,
                                                int8_models: dict[str, onnx.ModelProto]) -> None:
    """Tensors too big for a 32 x 32 texture stay on NumPy; the rest still runs on GL."""
    model = int8_models["cnn_digits"]
    feeds = {cnn_digits.input_name: cnn_digits.test_inputs[:5]}
    reference = NumpySession(model).run(feeds)["logits"]
    with GLContext(profile="webgl2", max_texture_size=32) as ctx, \
            GLSession(model, context=ctx) as session:
        output = session.run(feeds)["logits"]
        profile = session.profile()
        kinds = [step.kind for step in session.plan.steps]
    assert cosine(reference, output) >= MIN_COSINE
    assert profile.partitions
    assert any(kind != "numpy" for kind in kinds)
    assert profile.partition_readbacks >= 1
