#version 300 es
// 2-D convolution, one output element per fragment, im2col done implicitly by the indexing.
// Covers groups (depthwise included), strides, dilations and pads; a 1-D Conv is H = 1.
// Defines: QUANTIZED 0 FP32, 1 INT8 (dequant-conv); HAS_BIAS 0 or 1; ACTIVATION 0 none,
//   1 Relu, 2 Clip, 3 Sigmoid, 4 LeakyRelu; WRITE_ACCUMULATOR 1 (QUANTIZED only) also writes
//   the int32 accumulator to a second R32I target.
// Inputs:
//   u_x            QUANTIZED 0: sampler2D, R32F flat-layout X (N, C, H, W), element i at
//                  texel (i % w, i / w). QUANTIZED 1: u_x_q, usampler2D, RGBA8UI x_q of the
//                  same flat matrix, four consecutive columns per texel.
//   u_x_width      int, columns of X's flat matrix.
//   u_params       sampler2D, RGBA32F 1x1 (x_scale, x_zero_point, 0, 0) (QUANTIZED 1).
//   u_w            sampler2D R32F (FP32) or isampler2D R8I (INT8) W (M, C / group, KH, KW),
//                  flat, or with PLANES as W[m, c, kh, kw] at texel (c * KW + kw, m * KH + kh).
//   u_w_scale      sampler2D, R32F flat (M) per-channel weight scales (QUANTIZED 1).
//   u_bias         sampler2D, R32F flat (M), BatchNormalization already folded in.
//   u_w_width, u_bias_width  int, texture widths of W and of the per-channel tables.
//   u_in_dims      ivec4 (N, C, H, W); u_out_dims ivec4 (N, M, OH, OW).
//   u_kernel, u_stride, u_dilation, u_pad_begin  ivec2, (height, width) pairs.
//   u_group_channels  ivec2 (C / group, M / group).
//   u_act_params   vec2, Clip bounds, or LeakyRelu alpha in .x.
//   u_out_width, u_out_size  int, output texture width and element count.
// Outputs: o_value, R32F flat-layout Y (N, M, OH, OW); o_acc (WRITE_ACCUMULATOR) R32I.
// Formula, with ih = oh * stride_h - pad_h + kh * dilation_h (likewise iw), taps outside X
// skipped (zero padding), c over the group of m:
//   FP32: y = act(sum X[n, c, ih, iw] * W[m, c, kh, kw] + bias[m])
//   INT8: acc = sum (x_q[n, c, ih, iw] - x_zero_point) * w_q[m, c, kh, kw]   (int32)
//         y = act(float(acc) * x_scale * w_scale[m] + bias[m])
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp isampler2D;
precision highp usampler2D;

#ifndef QUANTIZED
#define QUANTIZED 0
#endif
#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif
#ifndef ACTIVATION
#define ACTIVATION 0
#endif
#ifndef WRITE_ACCUMULATOR
#define WRITE_ACCUMULATOR 0
#endif
#ifndef PLANES
#define PLANES 0
#endif

#if QUANTIZED
uniform highp usampler2D u_x_q;
uniform sampler2D u_params;
uniform highp isampler2D u_w;
uniform sampler2D u_w_scale;
#else
uniform sampler2D u_x;
uniform sampler2D u_w;
#endif
uniform sampler2D u_bias;
uniform int u_x_width;
uniform int u_w_width;
uniform int u_bias_width;
uniform ivec4 u_in_dims;
uniform ivec4 u_out_dims;
uniform ivec2 u_kernel;
uniform ivec2 u_stride;
uniform ivec2 u_dilation;
uniform ivec2 u_pad_begin;
uniform ivec2 u_group_channels;
uniform vec2 u_act_params;
uniform int u_out_width;
uniform int u_out_size;

layout(location = 0) out float o_value;
#if WRITE_ACCUMULATOR
layout(location = 1) out int o_acc;
#endif

// Texel of flat index i in a texture of the given width, without integer division (which
// CPU rasterizers such as llvmpipe run one lane at a time): a float estimate of the row, then
// one correction step. Exact for indices below 2**24.
ivec2 texel_of(int index, int width, float inv_width) {
    int row = int(float(index) * inv_width);
    int col = index - row * width;
    if (col < 0) {
        row -= 1;
        col += width;
    } else if (col >= width) {
        row += 1;
        col -= width;
    }
    return ivec2(col, row);
}

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        o_value = 0.0;
#if WRITE_ACCUMULATOR
        o_acc = 0;
#endif
        return;
    }
    int ow = out_index % u_out_dims.w;
    int oh = (out_index / u_out_dims.w) % u_out_dims.z;
    int m = (out_index / (u_out_dims.w * u_out_dims.z)) % u_out_dims.y;
    int n = out_index / (u_out_dims.w * u_out_dims.z * u_out_dims.y);
    int c0 = (m / u_group_channels.y) * u_group_channels.x;
    int ih0 = oh * u_stride.x - u_pad_begin.x;
    float x_inv_width = 1.0 / float(u_x_width);
    float w_inv_width = 1.0 / float(u_w_width);
    int iw0 = ow * u_stride.y - u_pad_begin.y;
#if QUANTIZED
    int zero_point = int(texelFetch(u_params, ivec2(0, 0), 0).y);
    int acc = 0;
#else
    float acc = 0.0;
#endif
#if PLANES
    for (int c = 0; c < u_group_channels.x; ++c) {
        int x_row = n * u_in_dims.y + c0 + c;
        int w_col0 = c * u_kernel.y;
        for (int kh = 0; kh < u_kernel.x; ++kh) {
            int ih = ih0 + kh * u_dilation.x;
            if (ih < 0 || ih >= u_in_dims.z) {
                continue;
            }
            int x_col0 = ih * u_in_dims.w;
            int w_row = m * u_kernel.x + kh;
            for (int kw = 0; kw < u_kernel.y; ++kw) {
                int iw = iw0 + kw * u_dilation.y;
                if (iw < 0 || iw >= u_in_dims.w) {
                    continue;
                }
                int x_col = x_col0 + iw;
#if QUANTIZED
                uvec4 quad = texelFetch(u_x_q, ivec2(x_col >> 2, x_row), 0);
                int w = texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0).r;
                acc += (int(quad[x_col & 3]) - zero_point) * w;
#else
                acc += texelFetch(u_x, ivec2(x_col, x_row), 0).r
                    * texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0).r;
#endif
            }
        }
    }
#else
    for (int c = 0; c < u_group_channels.x; ++c) {
        int x_plane = (n * u_in_dims.y + c0 + c) * u_in_dims.z;
        int w_plane = (m * u_group_channels.x + c) * u_kernel.x;
        for (int kh = 0; kh < u_kernel.x; ++kh) {
            int ih = ih0 + kh * u_dilation.x;
            if (ih < 0 || ih >= u_in_dims.z) {
                continue;
            }
            int x_row = (x_plane + ih) * u_in_dims.w;
            int w_row = (w_plane + kh) * u_kernel.y;
            for (int kw = 0; kw < u_kernel.y; ++kw) {
                int iw = iw0 + kw * u_dilation.y;
                if (iw < 0 || iw >= u_in_dims.w) {
                    continue;
                }
                int x_index = x_row + iw;
                int w_index = w_row + kw;
#if QUANTIZED
                ivec2 x_texel = texel_of(x_index, u_x_width, x_inv_width);
                uvec4 quad = texelFetch(u_x_q, ivec2(x_texel.x >> 2, x_texel.y), 0);
                int w = texelFetch(u_w, texel_of(w_index, u_w_width, w_inv_width), 0).r;
                acc += (int(quad[x_texel.x & 3]) - zero_point) * w;
#else
                acc += texelFetch(u_x, texel_of(x_index, u_x_width, x_inv_width), 0).r
                    * texelFetch(u_w, texel_of(w_index, u_w_width, w_inv_width), 0).r;
#endif
            }
        }
    }
#endif
#if QUANTIZED
    float x_scale = texelFetch(u_params, ivec2(0, 0), 0).x;
    float y = float(acc) * x_scale * texelFetch(u_w_scale, ivec2(m % u_bias_width, m / u_bias_width), 0).r;
#else
    float y = acc;
#endif
#if HAS_BIAS
    y += texelFetch(u_bias, ivec2(m % u_bias_width, m / u_bias_width), 0).r;
#endif
#if ACTIVATION == 1
    // GLSL leaves max and clamp of a NaN to the driver, so NaN is passed on explicitly.
    y = isnan(y) ? y : max(y, 0.0);
#elif ACTIVATION == 2
    y = isnan(y) ? y : clamp(y, u_act_params.x, u_act_params.y);
#elif ACTIVATION == 3
    y = 1.0 / (1.0 + exp(-y));
#elif ACTIVATION == 4
    y = y >= 0.0 ? y : u_act_params.x * y;
#endif
    o_value = y;
#if WRITE_ACCUMULATOR
    o_acc = acc;
#endif
}
