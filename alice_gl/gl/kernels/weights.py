"""Quantized weights of a dequant-matmul in textures: int8 values, per-channel scales, bias."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.gl.layout import TextureLayout
from alice_gl.gl.textures import GLTensor

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext


@dataclass(eq=False)
class QuantizedWeights:
    """Weights ``w_q`` (K x N int8, ``y = x @ w``), ``w_scale`` (N,) and optional ``bias`` (N,).

    ``w_q`` is stored transposed as an N x K RGBA8I tensor, four consecutive K values per
    texel with zero padding past K, so a pass reads one output column's weights along a row.
    The weights have zero point 0 (symmetric int8), as the ONNX quantizer emits them.
    """

    w_q_t: GLTensor
    w_scale: GLTensor
    bias: GLTensor | None

    @property
    def k(self) -> int:
        """Shared dimension K."""
        return self.w_q_t.shape[1]

    @property
    def n(self) -> int:
        """Output channels N."""
        return self.w_q_t.shape[0]

    @staticmethod
    def layouts(ctx: GLContext, k: int, n: int,
                has_bias: bool) -> dict[str, tuple[str, TextureLayout]]:
        """Return (kind, layout) per texture set, keyed ``w_q``, ``w_scale`` and ``bias``."""
        layouts = {"w_q": ("weights", ctx.layout((n, k), np.int8, channels=4)),
                   "w_scale": ("scales", ctx.layout((n,), np.float32))}
        if has_bias:
            layouts["bias"] = ("scales", ctx.layout((n,), np.float32))
        return layouts

    @classmethod
    def upload(cls, ctx: GLContext, w_q: np.ndarray, w_scale: np.ndarray | float,
               bias: np.ndarray | None = None, name: str = "") -> QuantizedWeights:
        """Copy the weights into new textures of ``ctx``.

        ``w_scale`` is per output channel (shape (N,)) or one scalar for the whole tensor.
        Raises ``InvalidInputError`` on a wrong dtype or shape.
        """
        w_q = np.asarray(w_q)
        if w_q.dtype != np.int8 or w_q.ndim != 2:
            raise InvalidInputError(f"w_q for {name!r} must be a 2-D int8 array (K, N); got "
                                    f"{w_q.dtype} of shape {w_q.shape}.")
        n = w_q.shape[1]
        if np.asarray(w_scale).size not in (1, n):
            raise InvalidInputError(f"w_scale for {name!r} needs 1 or N={n} values; got shape "
                                    f"{np.shape(w_scale)}.")
        scale = np.broadcast_to(np.asarray(w_scale, dtype=np.float32).reshape(-1), (n,))
        if bias is not None and np.asarray(bias).size != n:
            raise InvalidInputError(f"bias for {name!r} needs N={n} values; got shape "
                                    f"{np.shape(bias)}.")
        w_q_t = ctx.upload(np.ascontiguousarray(w_q.T), "weights", f"{name}.w_q", channels=4)
        scale_tensor = ctx.upload(np.ascontiguousarray(scale), "scales", f"{name}.w_scale")
        bias_tensor = None
        if bias is not None:
            bias_tensor = ctx.upload(np.asarray(bias, dtype=np.float32).reshape(n), "scales",
                                     f"{name}.bias")
        return cls(w_q_t, scale_tensor, bias_tensor)

    def release(self, ctx: GLContext) -> None:
        """Release the weight, scale and bias textures."""
        for tensor in (self.w_q_t, self.w_scale, self.bias):
            if tensor is not None:
                ctx.release(tensor)
