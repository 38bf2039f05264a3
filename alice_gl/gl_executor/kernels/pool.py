"""MaxPool, AveragePool and their global forms as one pass (``op_pool2d.frag``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alice_gl.gl import GLContext, GLTensor
from alice_gl.gl_executor.kernels.base import GLKernel, draw_pass, out_uniforms

POOL_MODES = {"MaxPool": 0, "GlobalMaxPool": 0, "AveragePool": 1, "GlobalAveragePool": 1}


@dataclass(frozen=True)
class PoolGeometry:
    """Shapes and window attributes of a 2-D pool, as (height, width) pairs."""

    in_dims: tuple[int, int, int, int]
    out_dims: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad_begin: tuple[int, int]
    pad_end: tuple[int, int]
    count_include_pad: bool


def _as_2d(values: Sequence[int], fill: int) -> tuple[int, int]:
    return (fill, int(values[0])) if len(values) == 1 else (int(values[0]), int(values[1]))


def pool_geometry(op_type: str, x_shape: Sequence[int], y_shape: Sequence[int],
                  attributes: dict) -> PoolGeometry | None:
    """Return the geometry of a pooling node from static shapes, or None when not covered.

    Covered: 1-D and 2-D pools, explicit pads or ``auto_pad``. The output size comes from
    the dry run, so ``ceil_mode`` needs no handling here beyond ``pad_end``.
    """
    spatial = len(x_shape) - 2
    if spatial not in (1, 2):
        return None
    if op_type.startswith("Global"):
        kernel, strides, dilations = list(x_shape[2:]), [1] * spatial, [1] * spatial
        pads = [0] * (2 * spatial)
    else:
        if attributes.get("storage_order", 0):
            return None
        kernel = list(attributes["kernel_shape"])
        strides = list(attributes.get("strides") or [1] * spatial)
        dilations = list(attributes.get("dilations") or [1] * spatial)
        pads = list(attributes.get("pads") or [0] * (2 * spatial))
        auto_pad = attributes.get("auto_pad", "NOTSET")
        if isinstance(auto_pad, bytes):
            auto_pad = auto_pad.decode()
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            begin, end = [], []
            for axis in range(spatial):
                needed = max(0, (y_shape[2 + axis] - 1) * strides[axis]
                             + (kernel[axis] - 1) * dilations[axis] + 1 - x_shape[2 + axis])
                low = needed // 2 if auto_pad == "SAME_UPPER" else needed - needed // 2
                begin.append(low)
                end.append(needed - low)
            pads = begin + end
        elif auto_pad == "VALID":
            pads = [0] * (2 * spatial)
    in_dims = tuple(x_shape) if spatial == 2 else (x_shape[0], x_shape[1], 1, x_shape[2])
    out_dims = tuple(y_shape) if spatial == 2 else (y_shape[0], y_shape[1], 1, y_shape[2])
    return PoolGeometry(in_dims, out_dims, _as_2d(kernel, 1), _as_2d(strides, 1),
                        _as_2d(dilations, 1), _as_2d(pads[:spatial], 0),
                        _as_2d(pads[spatial:], 0),
                        bool(attributes.get("count_include_pad", 0)))


class PoolKernel(GLKernel):
    """Run a pooling node as one fragment pass."""

    def __init__(self, ctx: GLContext, name: str, op_type: str, geometry: PoolGeometry) -> None:
        super().__init__(ctx, name)
        self.mode = POOL_MODES[op_type]
        self.geometry = geometry
        self._size = int(np.prod(geometry.out_dims))

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        x: GLTensor = inputs[0]
        out: GLTensor = outputs[0]
        g = self.geometry
        draw_pass(self.ctx, "op_pool2d.frag", {"MODE": self.mode}, [out],
                  {"u_x": x.textures[0]},
                  {"u_x_width": x.layout.cols, "u_in_dims": g.in_dims,
                   "u_out_dims": g.out_dims, "u_kernel": g.kernel, "u_stride": g.stride,
                   "u_dilation": g.dilation, "u_pad_begin": g.pad_begin,
                   "u_pad_end": g.pad_end, "u_count_include_pad": int(g.count_include_pad),
                   **out_uniforms(out, self._size)})
