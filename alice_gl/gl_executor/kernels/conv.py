"""2-D convolution, FP32 or INT8 (dequant-conv), with implicit im2col (``op_conv2d.*``).

BatchNormalization that follows a Conv is folded into the weights (FP32) or the per-channel
weight scales (INT8) and the bias at plan time, by ``fold_batch_norm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import moderngl
import numpy as np

from alice_gl.gl import GLContext, GLTensor, TextureLayout
from alice_gl.gl.kernels.binding import bind_textures, set_uniforms
from alice_gl.gl.kernels.dynamic_quantize import QuantizedActivation
from alice_gl.gl_executor.kernels.activation import Activation
from alice_gl.gl_executor.kernels.base import (
    COMPUTE_LOCAL_SIZE,
    GLKernel,
    dispatch_pass,
    draw_pass,
    out_uniforms,
)
from alice_gl.gl_executor.values import flat_layout


@dataclass(frozen=True)
class ConvGeometry:
    """A 2-D convolution's shapes and attributes as (height, width) pairs.

    A 1-D convolution is a 2-D one with height 1, kernel 1, stride 1 and no height padding.
    """

    in_dims: tuple[int, int, int, int]
    out_dims: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad_begin: tuple[int, int]
    group: int


def conv_geometry(x_shape: Sequence[int], w_shape: Sequence[int], y_shape: Sequence[int],
                  attributes: dict) -> ConvGeometry | None:
    """Return the geometry of a Conv node from its static shapes, or None above 2-D.

    ``auto_pad`` is resolved the way the ONNX spec defines it (SAME_UPPER puts the extra pad
    at the end). The output shape comes from the caller (the dry run), so ceil rules agree.
    """
    spatial = len(x_shape) - 2
    if spatial not in (1, 2):
        return None
    kernel = list(attributes.get("kernel_shape") or w_shape[2:])
    strides = list(attributes.get("strides") or [1] * spatial)
    dilations = list(attributes.get("dilations") or [1] * spatial)
    auto_pad = attributes.get("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    pads = list(attributes.get("pads") or [0] * (2 * spatial))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for axis in range(spatial):
            needed = max(0, (y_shape[2 + axis] - 1) * strides[axis]
                         + (kernel[axis] - 1) * dilations[axis] + 1 - x_shape[2 + axis])
            low = needed // 2 if auto_pad == "SAME_UPPER" else needed - needed // 2
            pads.append(low)
    elif auto_pad == "VALID":
        pads = [0] * spatial
    begin = pads[:spatial]
    if spatial == 1:
        return ConvGeometry((x_shape[0], x_shape[1], 1, x_shape[2]),
                            (y_shape[0], y_shape[1], 1, y_shape[2]),
                            (1, kernel[0]), (1, strides[0]), (1, dilations[0]), (0, begin[0]),
                            int(attributes.get("group", 1)))
    return ConvGeometry(tuple(x_shape), tuple(y_shape), tuple(kernel), tuple(strides),
                        tuple(dilations), tuple(begin), int(attributes.get("group", 1)))


def fold_batch_norm(scale_per_channel: np.ndarray, bias: np.ndarray | None,
                    attributes: dict, bn_inputs: Sequence[np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Fold inference-mode BatchNormalization into a per-channel factor and a new bias.

    ``y = gamma * (conv + bias - mean) / sqrt(var + epsilon) + beta`` becomes
    ``conv * factor + new_bias``; the caller multiplies its weights (or weight scales) by
    the returned factor. ``scale_per_channel`` only gives the channel count.
    """
    gamma, beta, mean, var = (np.asarray(value, dtype=np.float64) for value in bn_inputs[:4])
    epsilon = float(attributes.get("epsilon", 1e-5))
    factor = gamma / np.sqrt(var + epsilon)
    base = np.zeros(scale_per_channel.shape[0]) if bias is None else np.asarray(bias, np.float64)
    new_bias = (base - mean) * factor + beta
    return factor, new_bias


class ConvKernel(GLKernel):
    """Run one Conv node, with a folded BatchNormalization and activation, as a single pass.

    FP32: ``weights`` is float (M, C / group, KH, KW). INT8: ``weights`` is int8 with
    per-channel ``w_scale`` (M,), and ``run`` takes a ``QuantizedActivation``; with
    ``capture_accumulator`` the int32 accumulators go to ``accumulator`` after each run.
    """

    def __init__(self, ctx: GLContext, name: str, geometry: ConvGeometry, weights: np.ndarray,
                 bias: np.ndarray | None, activation: Activation, backend: str,
                 x_shape: Sequence[int], y_shape: Sequence[int],
                 w_scale: np.ndarray | None = None, capture_accumulator: bool = False) -> None:
        super().__init__(ctx, name)
        self.geometry = geometry
        self.activation = activation
        self.backend = backend
        self.quantized = w_scale is not None
        channels = geometry.out_dims[1]
        weights, w_layout = self._arrange_weights(ctx, np.asarray(weights), x_shape, y_shape)
        if self.quantized:
            self.add_constant("w", np.asarray(weights, dtype=np.int8), layout=w_layout)
            self.add_constant("w_scale", np.broadcast_to(
                np.asarray(w_scale, dtype=np.float32).reshape(-1), (channels,)).copy(),
                kind="scales")
        else:
            self.add_constant("w", np.asarray(weights, dtype=np.float32), layout=w_layout)
        self.has_bias = bias is not None
        if bias is not None:
            self.add_constant("bias", np.asarray(bias, dtype=np.float32).reshape(channels),
                              kind="scales")
        self._size = int(np.prod(geometry.out_dims))
        self.accumulator: GLTensor | None = None
        self.capture_accumulator = capture_accumulator and self.quantized

    def _arrange_weights(self, ctx: GLContext, weights: np.ndarray, x_shape: Sequence[int],
                         y_shape: Sequence[int]) -> tuple[np.ndarray, TextureLayout | None]:
        """Choose the addressing mode and return W arranged for it, with its layout.

        ``planes`` (no division per tap) needs X in one H x W plane per texture row and W as
        (M * KH, C / group * KW) within the max texture side. ``four_channels`` (compute
        passes only) also needs Y in planes and M / group divisible by 4, and W then stores four
        output channels per RGBA texel. ``channel_packed`` (fragment passes only) needs planes
        for Y and C / group divisible by 4: a first pass repacks X four channels per texel and
        W stores four input channels per texel. Otherwise W stays flat (layout None).
        """
        g = self.geometry
        m, group_channels, kh, kw = (g.out_dims[1], g.in_dims[1] // g.group, *g.kernel)
        x_layout = flat_layout(ctx, x_shape)
        y_layout = flat_layout(ctx, y_shape)
        max_size = ctx.max_texture_size
        self.planes = ((x_layout.rows, x_layout.cols) == (g.in_dims[0] * g.in_dims[1],
                                                           g.in_dims[2] * g.in_dims[3])
                       and max(m * kh, group_channels * kw) <= max_size)
        self.four_channels = (self.planes and self.backend == "compute"
                              and (m // g.group) % 4 == 0
                              and (y_layout.rows, y_layout.cols) == (
                                  g.out_dims[0] * m, g.out_dims[2] * g.out_dims[3]))
        self.channel_packed = (self.planes and self.backend == "fragment"
                               and group_channels % 4 == 0
                               and (y_layout.rows, y_layout.cols) == (
                                   g.out_dims[0] * m, g.out_dims[2] * g.out_dims[3]))
        if self.four_channels:
            by_texel = weights.reshape(m // 4, 4, group_channels, kh, kw).transpose(0, 3, 2, 4, 1)
            arranged = np.ascontiguousarray(by_texel).reshape(m // 4 * kh,
                                                              group_channels * kw * 4)
            return arranged, ctx.layout(arranged.shape, weights.dtype, channels=4)
        if self.channel_packed:
            by_texel = weights.reshape(m, group_channels // 4, 4, kh, kw).transpose(0, 3, 1, 4, 2)
            arranged = np.ascontiguousarray(by_texel).reshape(m * kh, group_channels * kw)
            self.step_scratch[f"{self.name}.x_packed"] = ctx.layout(
                (g.in_dims[0] * g.in_dims[1] // 4, g.in_dims[2] * g.in_dims[3] * 4),
                np.uint8 if self.quantized else np.float32, channels=4)
            return arranged, ctx.layout(arranged.shape, weights.dtype, channels=4)
        if not self.planes:
            return weights, None
        by_row = weights.reshape(m, group_channels, kh, kw).transpose(0, 2, 1, 3)
        return np.ascontiguousarray(by_row).reshape(m * kh, group_channels * kw), None

    @property
    def pass_count(self) -> int:
        return 2 if self.channel_packed else 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        g = self.geometry
        out: GLTensor = outputs[0]
        targets = [out] + ([outputs[1]] if self.capture_accumulator else [])
        per_channel = self.textures["bias"] if self.has_bias else self.textures.get(
            "w_scale", self.textures["w"])
        low, high = self.activation.clip_bounds
        act_params = (low, high) if self.activation.op_type == "Clip" else \
            self.activation.params
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
        uniforms = {
            "u_x_width": x_width, "u_w_width": self.textures["w"].layout.cols,
            "u_bias_width": per_channel.layout.cols, "u_in_dims": g.in_dims,
            "u_out_dims": g.out_dims, "u_kernel": g.kernel, "u_stride": g.stride,
            "u_dilation": g.dilation, "u_pad_begin": g.pad_begin,
            "u_group_channels": (g.in_dims[1] // g.group, g.out_dims[1] // g.group),
            "u_act_params": act_params, **out_uniforms(out, self._size)}
        defines = {"QUANTIZED": int(self.quantized), "HAS_BIAS": int(self.has_bias),
                   "ACTIVATION": self.activation.define,
                   "WRITE_ACCUMULATOR": int(self.capture_accumulator),
                   "PLANES": int(self.planes)}
        if self.channel_packed:
            self._draw_channel_packed(defines, targets, textures, uniforms)
        elif self.four_channels:
            self._dispatch_four_channels(defines, targets, textures, uniforms)
        elif self.backend == "compute":
            dispatch_pass(self.ctx, "op_conv2d.comp", defines, targets, textures, uniforms)
        else:
            draw_pass(self.ctx, "op_conv2d.frag", defines, targets, textures, uniforms)

    def _dispatch_four_channels(self, defines: dict[str, int], targets: Sequence[GLTensor],
                                textures: dict[str, moderngl.Texture],
                                uniforms: dict[str, object]) -> None:
        """Dispatch one invocation per output position and four channels, then a barrier."""
        g = self.geometry
        program = self.ctx.programs.compute("op_conv2d_x4.comp",
                                            {**defines, "LOCAL_SIZE": COMPUTE_LOCAL_SIZE})
        bind_textures(program, textures)
        for unit, target in enumerate(targets):
            target.textures[0].bind_to_image(unit, read=False, write=True)
        set_uniforms(program, uniforms)
        columns = g.out_dims[2] * g.out_dims[3]
        rows = g.out_dims[0] * g.out_dims[1] // 4
        program.run(-(-columns // COMPUTE_LOCAL_SIZE), -(-rows // COMPUTE_LOCAL_SIZE))
        self.ctx.gl.memory_barrier()

    def _draw_channel_packed(self, defines: dict[str, int], targets: Sequence[GLTensor],
                             textures: dict[str, moderngl.Texture],
                             uniforms: dict[str, object]) -> None:
        """Repack X four channels per texel, then draw the convolution reading it."""
        packed = self.textures[f"{self.name}.x_packed"]
        source = {"u_x_q": textures["u_x_q"]} if self.quantized else {"u_x": textures["u_x"]}
        draw_pass(self.ctx, "op_pack_channels.frag", {"QUANTIZED": int(self.quantized)},
                  [packed], source, {})
        conv_textures = {name: texture for name, texture in textures.items()
                         if name not in ("u_x", "u_x_q")}
        conv_textures["u_x4"] = packed.textures[0]
        draw_pass(self.ctx, "op_conv2d_c4.frag", defines, targets, conv_textures, uniforms)
