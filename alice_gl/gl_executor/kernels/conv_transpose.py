"""2-D ConvTranspose, FP32 or INT8, as one gather pass (``op_conv_transpose2d.frag``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alice_gl.gl import GLContext, GLTensor
from alice_gl.gl.kernels.dynamic_quantize import QuantizedActivation
from alice_gl.gl_executor.kernels.activation import Activation
from alice_gl.gl_executor.kernels.base import GLKernel, draw_pass, out_uniforms
from alice_gl.gl_executor.kernels.conv import ConvGeometry


def conv_transpose_geometry(x_shape: Sequence[int], w_shape: Sequence[int],
                            y_shape: Sequence[int], attributes: dict) -> ConvGeometry | None:
    """Return the geometry of a ConvTranspose node, or None for what the shader skips.

    Covered: 1-D and 2-D with explicit ``pads`` (``auto_pad`` NOTSET and no ``output_shape``);
    ``output_padding`` only lengthens the output, whose shape comes from the dry run.
    """
    spatial = len(x_shape) - 2
    auto_pad = attributes.get("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if spatial not in (1, 2) or auto_pad != "NOTSET" or attributes.get("output_shape"):
        return None
    kernel = list(attributes.get("kernel_shape") or w_shape[2:])
    strides = list(attributes.get("strides") or [1] * spatial)
    dilations = list(attributes.get("dilations") or [1] * spatial)
    begin = list(attributes.get("pads") or [0] * (2 * spatial))[:spatial]
    group = int(attributes.get("group", 1))
    if spatial == 1:
        return ConvGeometry((x_shape[0], x_shape[1], 1, x_shape[2]),
                            (y_shape[0], y_shape[1], 1, y_shape[2]), (1, kernel[0]),
                            (1, strides[0]), (1, dilations[0]), (0, begin[0]), group)
    return ConvGeometry(tuple(x_shape), tuple(y_shape), tuple(kernel), tuple(strides),
                        tuple(dilations), tuple(begin), group)


class ConvTransposeKernel(GLKernel):
    """Run one ConvTranspose node and its activation as one pass.

    The kernel is INT8 when ``w_scale`` (M,) is given, and ``run`` then takes a
    ``QuantizedActivation``.
    """

    def __init__(self, ctx: GLContext, name: str, geometry: ConvGeometry, weights: np.ndarray,
                 bias: np.ndarray | None, activation: Activation,
                 w_scale: np.ndarray | None = None) -> None:
        super().__init__(ctx, name)
        self.geometry = geometry
        self.activation = activation
        self.quantized = w_scale is not None
        channels = geometry.out_dims[1]
        if self.quantized:
            self.add_constant("w", np.asarray(weights, dtype=np.int8))
            self.add_constant("w_scale", np.asarray(w_scale, dtype=np.float32).reshape(channels),
                              kind="scales")
        else:
            self.add_constant("w", np.asarray(weights, dtype=np.float32))
        self.has_bias = bias is not None
        if bias is not None:
            self.add_constant("bias", np.asarray(bias, dtype=np.float32).reshape(channels),
                              kind="scales")
        self._size = int(np.prod(geometry.out_dims))

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        g = self.geometry
        out: GLTensor = outputs[0]
        per_channel = self.textures.get("bias") or self.textures.get("w_scale") \
            or self.textures["w"]
        textures = {"u_w": self.texture("w"), "u_bias": per_channel.textures[0]}
        if self.quantized:
            x: QuantizedActivation = inputs[0]
            textures.update({"u_x_q": x.x_q.textures[0], "u_params": x.params.textures[0],
                             "u_w_scale": self.texture("w_scale")})
            x_width = x.x_q.layout.cols
        else:
            x_tensor: GLTensor = inputs[0]
            textures["u_x"] = x_tensor.textures[0]
            x_width = x_tensor.layout.cols
        low, high = self.activation.clip_bounds
        act_params = (low, high) if self.activation.op_type == "Clip" else \
            self.activation.params
        draw_pass(self.ctx, "op_conv_transpose2d.frag",
                  {"QUANTIZED": int(self.quantized), "HAS_BIAS": int(self.has_bias),
                   "ACTIVATION": self.activation.define}, [out], textures,
                  {"u_x_width": x_width, "u_w_width": self.textures["w"].layout.cols,
                   "u_bias_width": per_channel.layout.cols, "u_in_dims": g.in_dims,
                   "u_out_dims": g.out_dims, "u_kernel": g.kernel, "u_stride": g.stride,
                   "u_dilation": g.dilation, "u_pad_begin": g.pad_begin,
                   "u_group_channels": (g.in_dims[1] // g.group, g.out_dims[1] // g.group),
                   "u_act_params": act_params, **out_uniforms(out, self._size)})
