"""Softmax, LogSoftmax (``op_softmax.frag``) and LayerNormalization (``op_layer_norm.frag``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from alice_gl.gl import GLContext, GLTensor
from alice_gl.gl_executor.kernels.base import GLKernel, draw_pass, out_uniforms


class SoftmaxKernel(GLKernel):
    """Softmax or LogSoftmax of a tensor of ``shape`` along ``axis``.

    Before opset 13 the spec coerces the input to 2-D at ``axis``, so the reduction covers
    every dimension from ``axis`` on. From opset 13 it covers ``axis`` only.
    """

    def __init__(self, ctx: GLContext, name: str, op_type: str, shape: Sequence[int],
                 axis: int, opset: int) -> None:
        super().__init__(ctx, name)
        axis = axis + len(shape) if axis < 0 else axis
        if opset < 13:
            self.axis_size, self.inner = math.prod(shape[axis:]), 1
        else:
            self.axis_size, self.inner = shape[axis], math.prod(shape[axis + 1:])
        self.log = op_type == "LogSoftmax"
        self._size = math.prod(shape)

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        x: GLTensor = inputs[0]
        out: GLTensor = outputs[0]
        draw_pass(self.ctx, "op_softmax.frag", {"LOG": int(self.log)}, [out],
                  {"u_x": x.textures[0]},
                  {"u_x_width": x.layout.cols, "u_axis_size": self.axis_size,
                   "u_inner": self.inner, **out_uniforms(out, self._size)})


class LayerNormKernel(GLKernel):
    """LayerNormalization's first output; ``scale`` and ``bias`` are plan-time constants."""

    def __init__(self, ctx: GLContext, name: str, shape: Sequence[int], axis: int,
                 epsilon: float, scale: np.ndarray, bias: np.ndarray | None) -> None:
        super().__init__(ctx, name)
        axis = axis + len(shape) if axis < 0 else axis
        normalized = tuple(shape[axis:])
        self.block = math.prod(normalized)
        self.epsilon = float(epsilon)
        self.add_constant("scale", np.broadcast_to(np.asarray(scale, np.float32),
                                                   normalized).copy(), kind="scales")
        self.has_bias = bias is not None
        if bias is not None:
            self.add_constant("bias", np.broadcast_to(np.asarray(bias, np.float32),
                                                      normalized).copy(), kind="scales")
        self._size = math.prod(shape)

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        x: GLTensor = inputs[0]
        out: GLTensor = outputs[0]
        scale = self.textures["scale"]
        bias = self.textures["bias"] if self.has_bias else scale
        draw_pass(self.ctx, "op_layer_norm.frag", {"HAS_BIAS": int(self.has_bias)}, [out],
                  {"u_x": x.textures[0], "u_scale": scale.textures[0],
                   "u_bias": bias.textures[0]},
                  {"u_x_width": x.layout.cols, "u_scale_width": scale.layout.cols,
                   "u_block": self.block, "u_epsilon": self.epsilon,
                   **out_uniforms(out, self._size)})
