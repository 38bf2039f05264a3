"""Measured peak of the GL device, and the INT8 dequant-matmul's rate as a fraction of it.

Three measurements, each on fragment passes (``webgl2`` profile) and compute passes (``gl43``):

- ALU: ``shaders/bench_alu_peak.{frag,comp}`` run long dependent chains of int32 or float
  multiply-adds (8 independent vec4 chains per invocation) over many invocations. The loop
  count doubles until one pass takes ``--min-pass-ms``.
- Fetch: ``shaders/bench_fetch_rate.{frag,comp}`` read an RGBA32F or RGBA8I (the int8 weight
  format) texture with ``texelFetch``: streaming reads every texel of a large texture once
  (memory bandwidth), cached rereads a 256 x 256 texture (the rate from the caches).
- Dequant-matmul: ``alice_gl.gl.DequantMatMul`` at M = K = N = 1024 on an already quantized
  input, for each tiling in ``MATMUL_TILINGS``. Its rate counts 2 operations per
  multiply-add, 2 * M * N * K per run, and is divided by the device's int32 peak: the larger
  of the two families' int32 multiply-add rates.

Times are wall-clock from the first GL call to the return of ``glFinish``, the best of
``--repeats`` runs after one warm-up: a peak is the best the device does, and on a shared
machine other processes slow single runs down. GL timer queries are not used, because Mesa
llvmpipe 22.3 reports about 1 ns for a compute dispatch that takes hundreds of milliseconds.

Usage: python bench/peak.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from common import (
    argument_parser,
    configure_logging,
    format_header,
    format_table,
    format_targets,
    machine_header,
    progress,
    target,
    time_call,
    write_json,
)

from alice_gl.gl import (
    DequantMatMul,
    DynamicQuantizeLinear,
    GLContext,
    QuantizedWeights,
    TilingConfig,
)
from alice_gl.gl.kernels.binding import bind_textures, set_uniforms

FAMILIES = {"fragment": "webgl2", "compute": "gl43"}
TARGET_FRACTION = {"compute": 0.5, "fragment": 0.3}
MATMUL_SIZE = 1024
QUICK_MATMUL_SIZE = 256
MATMUL_TILINGS = (TilingConfig(256, 4), TilingConfig(512, 4), TilingConfig(1024, 1))
ALU_GRID = (1024, 1024)   # invocations (fragment viewport, compute as one row of workgroups)
QUICK_ALU_GRID = (256, 256)
ALU_CHAINS = 8
ALU_LOCAL_SIZE = 64
FETCH_SIZE = 2048
QUICK_FETCH_SIZE = 512
FETCHES_PER_INVOCATION = 16
# 256 x 256 RGBA8I is 256 KiB, which stays in a CPU's L2 or a GPU's texture cache.
CACHED_FETCH_SIZE = 256
CACHED_FETCHES_PER_INVOCATION = 64
FETCH_LOCAL_SIZE = 8
COLUMNS = [("measurement", "measurement"), ("family", "pass family"), ("detail", "detail"),
           ("best_ms", "best ms"), ("rate", "rate"), ("unit", "unit"),
           ("fraction_of_peak", "fraction of int32 peak")]


def timed_gl(ctx: GLContext, work: Callable[[], None], repeats: int):
    """Time ``work`` followed by ``glFinish``: ``repeats`` runs after one warm-up."""
    def run() -> None:
        work()
        ctx.gl.finish()
    return time_call(run, repeats=repeats, warmup=1)


@contextlib.contextmanager
def storage_buffer(ctx: GLContext, size_bytes: int) -> Iterator[Any]:
    """Yield a GL buffer of ``size_bytes`` bound to SSBO binding 0; released on exit."""
    buffer = ctx.gl.buffer(reserve=size_bytes)
    buffer.bind_to_storage_buffer(0)
    try:
        yield buffer
    finally:
        buffer.release()


def alu_pass(ctx: GLContext, family: str, integer: bool, grid: tuple[int, int]
             ) -> Callable[[int], Callable[[], None]]:
    """Return ``make(iterations)`` giving one ALU-peak pass over ``grid`` invocations."""
    width, height = grid
    mul_add = ((3, 5, 7, 9), (1, 1, 1, 1)) if integer else ((0.999,) * 4, (0.001,) * 4)
    uniforms = {"u_mul": mul_add[0], "u_add": mul_add[1]}
    if family == "compute":
        shader = ctx.programs.compute("bench_alu_peak.comp",
                                      {"INTEGER": int(integer), "LOCAL_SIZE": ALU_LOCAL_SIZE})

        def make(iterations: int) -> Callable[[], None]:
            def work() -> None:
                set_uniforms(shader, {**uniforms, "u_iterations": iterations})
                shader.run(width * height // ALU_LOCAL_SIZE)
            return work
        return make

    entry = ctx.programs.fragment("bench_alu_peak.frag", {"INTEGER": int(integer)})
    output = ctx.empty((height, width), np.float32, name="alu_output")
    framebuffer = ctx.framebuffer(output.textures)

    def make_fragment(iterations: int) -> Callable[[], None]:
        def work() -> None:
            framebuffer.viewport = (0, 0, width, height)
            framebuffer.use()
            set_uniforms(entry.program, {**uniforms, "u_iterations": iterations})
            entry.draw()
        return work
    return make_fragment


def measure_alu(ctx: GLContext, family: str, integer: bool, settings: dict[str, Any]
                ) -> dict[str, Any]:
    """Return the multiply-add rate of one family and number type, in operations per second."""
    grid = settings["alu_grid"]
    with storage_buffer(ctx, grid[0] * grid[1] * 4):
        make = alu_pass(ctx, family, integer, grid)
        iterations = 16
        while True:
            probe = timed_gl(ctx, make(iterations), repeats=1)
            if probe.min_ms >= settings["min_pass_ms"] or iterations >= 2**20:
                break
            iterations *= 2
        timing = timed_gl(ctx, make(iterations), settings["repeats"])
    multiply_adds = grid[0] * grid[1] * iterations * ALU_CHAINS * 4
    return {"measurement": f"ALU {'int32' if integer else 'float'} multiply-add",
            "family": family, "detail": f"{grid[0] * grid[1]} invocations x {iterations} loops",
            "best_ms": timing.min_ms, "rate": 2 * multiply_adds / timing.min_ms / 1e6,
            "unit": "Gop/s", "runs": timing.samples}


def measure_fetch(ctx: GLContext, family: str, integer: bool, cached: bool,
                  settings: dict[str, Any]) -> dict[str, Any]:
    """Return the texel fetch rate of one family from an RGBA32F or RGBA8I texture.

    Streaming reads each texel of a ``fetch_size``-square texture once; cached reads a
    ``CACHED_FETCH_SIZE``-square texture over and over, as the matmul passes reread their tiles.
    """
    # NOTE: on Mesa llvmpipe 22.3 the dequant-matmul sustains more fetches per second than this
    # pass measures, so the cached rate is not an upper bound for the matmul.
    size = CACHED_FETCH_SIZE if cached else settings["fetch_size"]
    generator = np.random.default_rng(0)
    if integer:
        data = generator.integers(-127, 128, size=(size, size * 4), dtype=np.int8)
    else:
        data = generator.random((size, size * 4), dtype=np.float32)
    source = ctx.upload(data, name="fetch_source", channels=4)
    fetches = CACHED_FETCHES_PER_INVOCATION if cached else FETCHES_PER_INVOCATION
    grid = settings["alu_grid"] if cached else (size // fetches, size)
    uniforms = {"u_fetches": fetches, "u_output_size": grid, "u_source_mask": (size - 1, size - 1)}
    try:
        work, cleanup = _fetch_pass(ctx, family, integer, source.textures[0], grid, uniforms)
        try:
            timing = timed_gl(ctx, work, settings["repeats"])
        finally:
            cleanup()
    finally:
        ctx.release(source)
    texel_bytes = data.itemsize * 4
    texels = grid[0] * grid[1] * fetches
    kind = "cached" if cached else "streaming"
    return {"measurement": f"texel fetch {'RGBA8I' if integer else 'RGBA32F'} {kind}",
            "family": family,
            "detail": f"{size} x {size} texture, {texel_bytes} B texels, {texels} fetches",
            "best_ms": timing.min_ms, "rate": texels / timing.min_ms / 1e6, "unit": "Gtexel/s",
            "gb_per_s": texels * texel_bytes / timing.min_ms / 1e6, "runs": timing.samples}


def _fetch_pass(ctx: GLContext, family: str, integer: bool, source: Any,
                grid: tuple[int, int], uniforms: dict[str, Any]
                ) -> tuple[Callable[[], None], Callable[[], None]]:
    """Return (one fetch pass over ``grid``, the release of what it allocated)."""
    defines = {"INTEGER": int(integer)}
    if family == "compute":
        shader = ctx.programs.compute("bench_fetch_rate.comp",
                                      {**defines, "LOCAL_SIZE": FETCH_LOCAL_SIZE})
        groups = (math.ceil(grid[0] / FETCH_LOCAL_SIZE), math.ceil(grid[1] / FETCH_LOCAL_SIZE))
        buffer = ctx.gl.buffer(reserve=grid[0] * grid[1] * 4)

        def dispatch() -> None:
            buffer.bind_to_storage_buffer(0)
            bind_textures(shader, {"u_source": source})
            set_uniforms(shader, uniforms)
            shader.run(*groups)
        return dispatch, buffer.release

    entry = ctx.programs.fragment("bench_fetch_rate.frag", defines)
    output = ctx.empty((grid[1], grid[0]), np.float32, name="fetch_output")
    framebuffer = ctx.framebuffer(output.textures)

    def draw() -> None:
        framebuffer.viewport = (0, 0, *grid)
        framebuffer.use()
        bind_textures(entry.program, {"u_source": source})
        set_uniforms(entry.program, uniforms)
        entry.draw()
    return draw, lambda: ctx.release(output)


def measure_matmul(ctx: GLContext, family: str, tiling: TilingConfig,
                   settings: dict[str, Any]) -> dict[str, Any]:
    """Return the dequant-matmul's rate at M = K = N = size, quantize pass excluded."""
    size = settings["matmul_size"]
    generator = np.random.default_rng(1)
    x = generator.standard_normal((size, size), dtype=np.float32)
    w_q = generator.integers(-127, 128, size=(size, size), dtype=np.int8)
    w_scale = np.full(size, 0.01, dtype=np.float32)
    bias = np.zeros(size, dtype=np.float32)
    weights = QuantizedWeights.upload(ctx, w_q, w_scale, bias, name="w")
    quantize = DynamicQuantizeLinear(ctx, (size, size))
    matmul = DequantMatMul(ctx, size, size, size, tiling, backend=family)
    x_tensor = ctx.upload(x, name="x")
    x_q = quantize.run(x_tensor)
    y = matmul.run(x_q, weights)
    try:
        timing = timed_gl(ctx, lambda: matmul.run(x_q, weights, out=y), settings["repeats"])
    finally:
        for tensor in (x_tensor, x_q.x_q, x_q.params, y):
            ctx.release(tensor)
        weights.release(ctx)
        matmul.release()
        quantize.release()
    operations = 2 * size**3
    return {"measurement": f"INT8 dequant-matmul {size}^3", "family": family,
            "detail": f"block_size {tiling.block_size}, max_concurrent_blocks "
                      f"{tiling.max_concurrent_blocks}, {matmul.pass_count} passes",
            "best_ms": timing.min_ms, "rate": operations / timing.min_ms / 1e6, "unit": "Gop/s",
            "fetch_rate": matmul.texel_fetches / timing.min_ms / 1e6,
            "block_size": tiling.block_size, "runs": timing.samples}


def measure_family(family: str, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Run every measurement of one pass family in its own context."""
    rows = []
    with GLContext(profile=FAMILIES[family]) as ctx:
        for integer in progress((True, False), f"ALU peak {family}"):
            rows.append(measure_alu(ctx, family, integer, settings))
        fetches = [(integer, cached) for integer in (True, False) for cached in (False, True)]
        for integer, cached in progress(fetches, f"fetch rate {family}"):
            rows.append(measure_fetch(ctx, family, integer, cached, settings))
        for tiling in progress(settings["tilings"], f"matmul {family}"):
            rows.append(measure_matmul(ctx, family, tiling, settings))
    return rows


def add_fractions(rows: list[dict[str, Any]]) -> float:
    """Set ``fraction_of_peak`` on the matmul rows; return the device's int32 peak in Gop/s."""
    peak = max(row["rate"] for row in rows if row["measurement"] == "ALU int32 multiply-add")
    for row in rows:
        if row["measurement"].startswith("INT8 dequant-matmul"):
            row["fraction_of_peak"] = row["rate"] / peak
    return peak


def peak_targets(rows: list[dict[str, Any]], peak: float) -> list[dict[str, Any]]:
    """Best matmul rate per family >= 50 % (compute) / 30 % (fragment) of the int32 peak."""
    targets = []
    for family, fraction in TARGET_FRACTION.items():
        candidates = [row for row in rows if row["family"] == family
                      and row["measurement"].startswith("INT8 dequant-matmul")]
        best = max(candidates, key=lambda row: row["rate"])
        fetch = next(row for row in rows if row["family"] == family
                     and row["measurement"] == "texel fetch RGBA8I cached")
        # The fetch benchmark uses texelFetch; compute passes read with imageLoad, whose rate
        # it does not measure, so the ratio only bounds the fragment family.
        bound = (f"best at block_size {best['block_size']}: {best['rate']:.1f} Gop/s with "
                 f"{best['fetch_rate']:.2f} Gtexel/s of x_q and w_q reads, "
                 f"{best['fetch_rate'] / fetch['rate']:.0%} of the {fetch['rate']:.2f} Gtexel/s "
                 "cached RGBA8I texelFetch rate measured here")
        targets.append(target(f"{best['measurement']} on {family} passes, fraction of peak",
                              best["fraction_of_peak"], fraction, higher_is_better=True,
                              bound=bound))
    return targets


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0], "peak")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs per measurement (default 5; --quick: 2)")
    parser.add_argument("--min-pass-ms", type=float, default=200.0,
                        help="the ALU loop count doubles until a pass takes this long (ms)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    configure_logging()

    settings = {"repeats": 2 if args.quick else args.repeats,
                "min_pass_ms": 20.0 if args.quick else args.min_pass_ms,
                "alu_grid": QUICK_ALU_GRID if args.quick else ALU_GRID,
                "fetch_size": QUICK_FETCH_SIZE if args.quick else FETCH_SIZE,
                "matmul_size": QUICK_MATMUL_SIZE if args.quick else MATMUL_SIZE,
                "tilings": MATMUL_TILINGS[:1] if args.quick else MATMUL_TILINGS}
    header = machine_header()
    rows = [row for family in FAMILIES for row in measure_family(family, settings)]
    peak = add_fractions(rows)
    targets = peak_targets(rows, peak)

    print("## GL device peak and dequant-matmul rate\n\n" + format_table(COLUMNS, rows))
    print(f"\nDevice int32 multiply-add peak: {peak:.2f} Gop/s (2 operations per multiply-add)")
    print("\n" + format_targets(targets))
    print(f"\n{format_header(header)}")
    write_json(args.json, "peak", rows, targets, header,
               {"settings": {**settings, "tilings": [t.__dict__ for t in settings["tilings"]]},
                "int32_peak_gops": peak})


if __name__ == "__main__":
    main()
