"""Repeated passes leave GL objects and process memory flat; released objects are deleted."""

from __future__ import annotations

import moderngl
import numpy as np

from alice_gl.gl import (
    DequantMatMul,
    DynamicQuantizeLinear,
    GLContext,
    QuantizedWeights,
    TilingConfig,
)

RUNS = 1000
WARMUP_RUNS = 100
# Allowed RSS growth over the 1000 runs: a coarse guard against leaks outside the context's
# bookkeeping (the object counts are the exact check). Leak-free runs grew 0.6 to 1.0 MB on
# Mesa llvmpipe; leaking one small texture per run grew 1.7 to 3.5 MB.
RSS_GROWTH_LIMIT_BYTES = 2 * 2**20


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * 4096


def _one_run(ctx: GLContext, x: np.ndarray, state: dict) -> np.ndarray:
    ctx.textures.write(state["x"], x)
    quantized = state["quantize"].run(state["x"], out=state["quantized"])
    state["matmul"].run(quantized, state["weights"], out=state["y"])
    temporary = ctx.upload(x[:1])
    texture = temporary.textures[0]
    ctx.release(temporary)
    assert isinstance(texture.mglo, moderngl.mgl.InvalidObject)
    return ctx.read(state["y"])


def _build(ctx: GLContext, backend: str, rng: np.random.Generator) -> dict:
    m, k, n = 2, 40, 24
    quantize = DynamicQuantizeLinear(ctx, (m, k))
    return {
        "x": ctx.empty((m, k), np.float32),
        "quantize": quantize,
        "quantized": quantize.run(ctx.empty((m, k), np.float32)),
        "matmul": DequantMatMul(ctx, m, k, n, TilingConfig(16, 2), "Relu", backend=backend),
        "weights": QuantizedWeights.upload(ctx, rng.integers(-128, 128, (k, n), dtype=np.int8),
                                           rng.uniform(0.01, 0.02, n).astype(np.float32),
                                           rng.standard_normal(n).astype(np.float32)),
        "y": ctx.empty((m, n), np.float32),
    }


def _check_flat(backend: str, rng: np.random.Generator) -> None:
    with GLContext("gl43") as ctx:
        state = _build(ctx, backend, rng)
        inputs = rng.standard_normal((8, 2, 40)).astype(np.float32)
        for index in range(WARMUP_RUNS):
            _one_run(ctx, inputs[index % 8], state)
        counts = ctx.gl_object_counts()
        allocated = ctx.allocated_bytes()
        rss = _rss_bytes()
        first = _one_run(ctx, inputs[0], state)

        for index in range(RUNS):
            _one_run(ctx, inputs[index % 8], state)

        assert ctx.gl_object_counts() == counts
        assert ctx.allocated_bytes() == allocated
        assert _rss_bytes() - rss < RSS_GROWTH_LIMIT_BYTES
        np.testing.assert_array_equal(_one_run(ctx, inputs[0], state), first)


def test_fragment_runs_stay_flat(rng: np.random.Generator) -> None:
    _check_flat("fragment", rng)


def test_compute_runs_stay_flat(rng: np.random.Generator) -> None:
    _check_flat("compute", rng)


def test_contexts_opened_and_closed_stay_flat(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 40)).astype(np.float32)
    for _ in range(5):
        with GLContext("gl43") as ctx:
            _one_run(ctx, x, _build(ctx, "fragment", rng))
    rss = _rss_bytes()
    for _ in range(20):
        with GLContext("gl43") as ctx:
            _one_run(ctx, x, _build(ctx, "fragment", rng))
        assert ctx.gl_object_counts() == {"textures": 0, "framebuffers": 0, "programs": 0}
    assert _rss_bytes() - rss < RSS_GROWTH_LIMIT_BYTES
