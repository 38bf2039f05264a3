"""Data movement on GL: a copy through a plan-time index map, and Concat.

The map comes from running the op's own NumPy kernel on an ``arange`` input. Some ops copy
each output element from an input element chosen by static shapes and constant inputs
(Transpose, Gather, Resize in nearest mode, Slice, Expand, Tile, DepthToSpace ...). For those,
the result of that run is the source index of every output element (``op_gather.frag``).
Concat needs no map: each input gets one pass that writes its own slice (``op_concat.frag``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from alice_gl.gl import GLContext, GLTensor
from alice_gl.gl_executor.kernels.base import GLKernel, draw_pass, out_uniforms


class GatherMapKernel(GLKernel):
    """Copy ``out[i] = x[map[i]]`` with an int32 ``index_map`` of the output's shape."""

    def __init__(self, ctx: GLContext, name: str, index_map: np.ndarray) -> None:
        super().__init__(ctx, name)
        self.add_constant("map", np.asarray(index_map, dtype=np.int32))
        self._size = int(np.asarray(index_map).size)

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        x: GLTensor = inputs[0]
        out: GLTensor = outputs[0]
        index_map = self.textures["map"]
        draw_pass(self.ctx, "op_gather.frag", {}, [out],
                  {"u_x": x.textures[0], "u_map": index_map.textures[0]},
                  {"u_x_width": x.layout.cols, "u_map_width": index_map.layout.cols,
                   **out_uniforms(out, self._size)})


def source_index_input(shape: Sequence[int]) -> np.ndarray:
    """Return a float64 tensor of ``shape`` whose every element equals its flat index."""
    return np.arange(math.prod(shape), dtype=np.float64).reshape(tuple(shape))


class ConcatKernel(GLKernel):
    """Concat of inputs of ``input_shapes`` along ``axis``: one pass per input, no index map."""

    def __init__(self, ctx: GLContext, name: str, input_shapes: Sequence[Sequence[int]],
                 axis: int) -> None:
        super().__init__(ctx, name)
        rank = len(input_shapes[0])
        self.axis = axis + rank if axis < 0 else axis
        self.axis_sizes = [int(shape[self.axis]) for shape in input_shapes]
        self.inner = math.prod(input_shapes[0][self.axis + 1:])
        outer = math.prod(input_shapes[0][:self.axis])
        self._size = outer * sum(self.axis_sizes) * self.inner

    @property
    def pass_count(self) -> int:
        return len(self.axis_sizes)

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        out: GLTensor = outputs[0]
        axis_out = sum(self.axis_sizes)
        offset = 0
        for tensor, size in zip(inputs, self.axis_sizes, strict=True):
            draw_pass(self.ctx, "op_concat.frag", {}, [out], {"u_x": tensor.textures[0]},
                      {"u_x_width": tensor.layout.cols, "u_axis_out": axis_out,
                       "u_inner": self.inner, "u_axis_offset": offset, "u_axis_size": size,
                       **out_uniforms(out, self._size)})
            offset += size
