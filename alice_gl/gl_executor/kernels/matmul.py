"""FP32 MatMul and Gemm as one pass per output (``op_gemm.frag`` or ``op_gemm.comp``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alice_gl.gl import GLContext, GLTensor
from alice_gl.gl_executor.kernels.activation import Activation
from alice_gl.gl_executor.kernels.base import GLKernel, dispatch_pass, draw_pass, out_uniforms


@dataclass(frozen=True)
class MatMulShape:
    """One product's geometry and the flat-index strides of A (batch, m, k) and B (batch, k, n).

    ``batch`` is the number of products; a stride of 0 means that operand is shared.
    """

    m: int
    n: int
    k: int
    batch: int
    a_strides: tuple[int, int, int]
    b_strides: tuple[int, int, int]


def matmul_shape(a_shape: Sequence[int], b_shape: Sequence[int], trans_a: bool = False,
                 trans_b: bool = False) -> MatMulShape | None:
    """Return the geometry of ``A @ B`` (numpy.matmul rules for rank >= 2), or None.

    None means a case the shader does not cover: a 1-D operand, or batch dimensions that
    differ without one side being 2-D.
    """
    if len(a_shape) < 2 or len(b_shape) < 2:
        return None
    rows_a, cols_a = a_shape[-2:]
    m, k = (cols_a, rows_a) if trans_a else (rows_a, cols_a)
    rows_b, cols_b = b_shape[-2:]
    k_b, n = (cols_b, rows_b) if trans_b else (rows_b, cols_b)
    if k != k_b:
        return None
    a_batch, b_batch = tuple(a_shape[:-2]), tuple(b_shape[:-2])
    if a_batch and b_batch and a_batch != b_batch:
        return None
    batch = math.prod(a_batch or b_batch)
    a_strides = (rows_a * cols_a if a_batch else 0,
                 1 if trans_a else cols_a, cols_a if trans_a else 1)
    b_strides = (rows_b * cols_b if b_batch else 0,
                 1 if trans_b else cols_b, cols_b if trans_b else 1)
    return MatMulShape(m, n, k, batch, a_strides, b_strides)


class MatMulKernel(GLKernel):
    """``y = act(alpha * A @ B + bias)``; A or B may be a constant uploaded at plan time.

    ``bias`` is a constant broadcastable to (M, N) (Gemm's ``beta * C``). ``backend`` is
    ``fragment`` or ``compute``.
    """

    def __init__(self, ctx: GLContext, name: str, shape: MatMulShape,
                 a_const: np.ndarray | None, b_const: np.ndarray | None, alpha: float,
                 bias: np.ndarray | None, activation: Activation, backend: str) -> None:
        super().__init__(ctx, name)
        self.shape = shape
        self.alpha = float(alpha)
        self.activation = activation
        self.backend = backend
        self.a_is_const = a_const is not None
        self.b_is_const = b_const is not None
        if a_const is not None:
            self.add_constant("a", np.asarray(a_const, dtype=np.float32))
        if b_const is not None:
            self.add_constant("b", np.asarray(b_const, dtype=np.float32))
        if bias is not None:
            full = np.broadcast_to(np.asarray(bias, dtype=np.float32), (shape.m, shape.n))
            self.add_constant("bias", np.ascontiguousarray(full), kind="scales")
        self.has_bias = bias is not None
        self._size = shape.batch * shape.m * shape.n

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        dynamic = iter(inputs)
        a: GLTensor = self.textures["a"] if self.a_is_const else next(dynamic)
        b: GLTensor = self.textures["b"] if self.b_is_const else next(dynamic)
        out: GLTensor = outputs[0]
        bias = self.textures["bias"] if self.has_bias else b
        shape = self.shape
        low, high = self.activation.clip_bounds
        act_params = (low, high) if self.activation.op_type == "Clip" else \
            self.activation.params
        uniforms = {"u_a_width": a.layout.cols, "u_b_width": b.layout.cols,
                    "u_bias_width": bias.layout.cols, "u_a_strides": shape.a_strides,
                    "u_b_strides": shape.b_strides, "u_mnk": (shape.m, shape.n, shape.k),
                    "u_alpha": self.alpha, "u_act_params": act_params,
                    **out_uniforms(out, self._size)}
        defines = {"HAS_BIAS": int(self.has_bias), "ACTIVATION": self.activation.define}
        textures = {"u_a": a.textures[0], "u_b": b.textures[0], "u_bias": bias.textures[0]}
        if self.backend == "compute":
            dispatch_pass(self.ctx, "op_gemm.comp", defines, [out], textures, uniforms)
        else:
            draw_pass(self.ctx, "op_gemm.frag", defines, [out], textures, uniforms)
