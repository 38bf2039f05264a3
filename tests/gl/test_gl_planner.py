"""MemoryPlan: byte accounting, liveness reuse, the budget error at its boundary, allocation."""

from __future__ import annotations

import numpy as np
import pytest

from alice_gl.errors import ConfigError, InvalidInputError, MemoryLimitExceededError
from alice_gl.gl import (
    BYTES_PER_MB,
    DequantMatMul,
    DynamicQuantizeLinear,
    GLContext,
    MemoryPlan,
    QuantizedActivation,
    QuantizedWeights,
    TextureLayout,
    TilingConfig,
)


def _layout_of_bytes(nbytes: int) -> TextureLayout:
    """Return a uint8 layout of exactly ``nbytes`` bytes (one row, one byte per texel)."""
    return TextureLayout((nbytes,), "uint8", 1, 2**31)


def test_budget_boundary_is_exact() -> None:
    budget_mb = 2
    plan = MemoryPlan()
    plan.add("w", "weights", _layout_of_bytes(budget_mb * BYTES_PER_MB - 1))
    plan.add("one_byte", "runtime_buffers", _layout_of_bytes(1))
    plan.check(budget_mb)

    plan.add("extra", "intermediates", _layout_of_bytes(1))
    with pytest.raises(MemoryLimitExceededError) as info:
        plan.check(budget_mb)
    assert info.value.planned_bytes == budget_mb * BYTES_PER_MB + 1
    assert info.value.budget_bytes == budget_mb * BYTES_PER_MB
    assert str(info.value).splitlines()[0] == "Memory limit exceeded: 2.01MB > 2MB"


def test_budget_message_has_breakdown_and_hint() -> None:
    plan = MemoryPlan()
    plan.add("w", "weights", _layout_of_bytes(40 * BYTES_PER_MB))
    plan.add("s", "scales", _layout_of_bytes(3 * BYTES_PER_MB))
    plan.add_intermediate("h", _layout_of_bytes(12 * BYTES_PER_MB), 0, 1)
    with pytest.raises(MemoryLimitExceededError) as info:
        plan.check()
    message = str(info.value)
    assert message.startswith("Memory limit exceeded: 55MB > 50MB\n")
    assert f"weights: {40 * BYTES_PER_MB} bytes (40.00 MB)" in message
    assert f"scales: {3 * BYTES_PER_MB} bytes" in message
    assert f"intermediates: {12 * BYTES_PER_MB} bytes" in message
    assert "runtime_buffers: 0 bytes" in message
    assert "enable tiling" in message
    assert "--block-size" in message
    assert "tiling.block_size" in message
    assert "--max-concurrent-blocks" in message
    assert "--max-memory-mb" in message
    assert "max_memory_mb" in message
    assert info.value.breakdown["weights"] == 40 * BYTES_PER_MB


def test_fractional_budget_in_mebibytes() -> None:
    plan = MemoryPlan()
    plan.add("w", "weights", _layout_of_bytes(BYTES_PER_MB // 2))
    plan.check(0.5)
    with pytest.raises(MemoryLimitExceededError, match=r"^Memory limit exceeded: 0.5MB > 0.4MB"):
        plan.check(0.4)


@pytest.mark.parametrize(("nbytes", "budget_mb", "first_line"), [
    (179_872, 0.01, "Memory limit exceeded: 0.18MB > 0.01MB"),
    (4_372_562, 4, "Memory limit exceeded: 4.18MB > 4MB"),
    (4 * BYTES_PER_MB + 1, 4, "Memory limit exceeded: 4.01MB > 4MB"),
    (55 * BYTES_PER_MB, 50, "Memory limit exceeded: 55MB > 50MB"),
])
def test_budget_message_fractional_megabytes(nbytes: int, budget_mb: float,
                                             first_line: str) -> None:
    plan = MemoryPlan()
    plan.add("w", "weights", _layout_of_bytes(nbytes))
    with pytest.raises(MemoryLimitExceededError) as info:
        plan.check(budget_mb)
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize("budget", [0, -1.0])
def test_invalid_budget_rejected(budget: float) -> None:
    with pytest.raises(ConfigError, match="max_memory_mb"):
        MemoryPlan().check(budget)


def test_liveness_reuses_dead_intermediates() -> None:
    plan = MemoryPlan()
    same = TextureLayout((4, 8), "float32", 1, 64)
    plan.add_intermediate("a", same, 0, 1)
    plan.add_intermediate("b", same, 1, 2)       # overlaps a at step 1: own textures
    plan.add_intermediate("c", same, 2, 3)       # a is dead: reuses a
    plan.add_intermediate("d", TextureLayout((32,), "float32", 1, 64), 4, 5)   # other size
    plan.add_intermediate("e", TextureLayout((2, 16), "float32", 1, 64), 4, 4)  # other size
    plan.add_intermediate("f", TextureLayout((1, 4, 8), "float32", 1, 64), 4, 6)  # reuses a

    slots = {name: entry.slot for name, entry in plan.entries.items()}
    assert slots == {"a": "a", "b": "b", "c": "a", "d": "d", "e": "e", "f": "a"}
    assert plan.bytes_by_kind()["intermediates"] == 4 * (32 + 32 + 32 + 32)


def test_plan_rejects_bad_entries() -> None:
    plan = MemoryPlan()
    layout = _layout_of_bytes(4)
    plan.add("x", "weights", layout)
    with pytest.raises(InvalidInputError, match="already has"):
        plan.add("x", "weights", layout)
    with pytest.raises(InvalidInputError, match="textures"):
        plan.add("y", "textures", layout)
    with pytest.raises(InvalidInputError, match="last_step"):
        plan.add_intermediate("z", layout, 3, 2)


@pytest.mark.parametrize("backend", ["fragment", "compute"])
def test_allocated_bytes_equal_plan(backend: str, rng: np.random.Generator) -> None:
    m, k, n = 3, 300, 70
    with GLContext(profile="gl43", max_texture_size=64) as ctx:
        quantize = DynamicQuantizeLinear(ctx, (m, k))
        matmul = DequantMatMul(ctx, m, k, n, TilingConfig(block_size=32, max_concurrent_blocks=3),
                               backend=backend)
        plan = MemoryPlan()
        for name, (kind, layout) in QuantizedWeights.layouts(ctx, k, n, True).items():
            plan.add(name, kind, layout)
        plan.add_intermediate("x", quantize.input_layout, 0, 1)
        for name, layout in quantize.output_layouts().items():
            plan.add_intermediate(name, layout, 1, 2)
        plan.add_intermediate("y", matmul.output_layouts()["y"], 2, 3)
        quantize.scratch.add_to_plan(plan)
        matmul.scratch.add_to_plan(plan)
        plan.check(1)

        tensors = plan.allocate(ctx)
        assert ctx.allocated_bytes() == plan.bytes_by_kind()
        assert plan.bytes_by_kind()["runtime_buffers"] > 0

        quantize.scratch.use(tensors)
        matmul.scratch.use(tensors)
        x = rng.standard_normal((m, k)).astype(np.float32)
        ctx.textures.write(tensors["x"], x)
        w_q = rng.integers(-128, 128, (k, n), dtype=np.int8)
        weights = QuantizedWeights(tensors["w_q"], tensors["w_scale"], tensors["bias"])
        ctx.textures.write(weights.w_q_t, np.ascontiguousarray(w_q.T))
        ctx.textures.write(weights.w_scale, np.full(n, 0.01, np.float32))
        quantized = quantize.run(
            tensors["x"], out=QuantizedActivation(tensors["x_q"], tensors["params"]))
        matmul.run(quantized, weights, out=tensors["y"])
        assert ctx.allocated_bytes() == plan.bytes_by_kind()
        assert np.isfinite(ctx.read(tensors["y"])).all()

        plan.release_all(ctx, tensors)
        assert sum(ctx.allocated_bytes().values()) == 0


def test_scratch_use_checks_layouts(webgl2_ctx: GLContext) -> None:
    matmul = DequantMatMul(webgl2_ctx, 2, 8, 8)
    with pytest.raises(InvalidInputError, match="missing"):
        matmul.scratch.use({})


def test_reused_slot_shares_textures(webgl2_ctx: GLContext) -> None:
    plan = MemoryPlan()
    layout = TextureLayout((2, 3), "float32", 1, 4096)
    plan.add_intermediate("a", layout, 0, 0)
    plan.add_intermediate("b", layout, 1, 1)
    tensors = plan.allocate(webgl2_ctx)
    assert tensors["b"].textures is tensors["a"].textures
    assert webgl2_ctx.allocated_bytes()["intermediates"] == layout.nbytes

    with pytest.raises(InvalidInputError, match="does not own"):
        webgl2_ctx.release(tensors["b"])
    plan.release_all(webgl2_ctx, tensors)
    assert tensors["b"].released
    with pytest.raises(InvalidInputError, match="released"):
        webgl2_ctx.read(tensors["b"])
