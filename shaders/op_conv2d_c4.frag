#version 300 es
// 2-D convolution reading four input channels per fetch (fragment pass, one output element
// per fragment); X comes repacked by op_pack_channels.frag.
// Requires the plane layouts (X and Y with one H x W plane per texture row) and C / group a
// multiple of 4.
// Defines: QUANTIZED 0 FP32, 1 INT8; HAS_BIAS; ACTIVATION 0 none, 1 Relu, 2 Clip, 3 Sigmoid,
//   4 LeakyRelu; WRITE_ACCUMULATOR (QUANTIZED only) also writes the int32 sums.
// Inputs:
//   u_x4           sampler2D RGBA32F (FP32) or usampler2D RGBA8UI (INT8): texel
//                  (h * W + w, n * C / 4 + c4) holds X[n, 4 * c4 + j, h, w] in channel j.
//   u_params       sampler2D, RGBA32F 1x1 (x_scale, x_zero_point, 0, 0) (QUANTIZED 1).
//   u_w            sampler2D RGBA32F or isampler2D RGBA8I: texel (c4 * KW + kw, m * KH + kh)
//                  holds W[m, 4 * c4 + j, kh, kw] in channel j (c4 counted within the group).
//   u_w_scale, u_bias  sampler2D R32F flat (M) tables; u_bias_width their texture width.
//   u_in_dims ivec4 (N, C, H, W); u_out_dims ivec4 (N, M, OH, OW); u_kernel, u_stride,
//   u_dilation, u_pad_begin ivec2 (height, width); u_group_channels ivec2 (C / group,
//   M / group); u_act_params vec2 (Clip bounds, or LeakyRelu alpha in .x).
// Outputs: o_value, R32F Y[n, m, oh, ow] at texel (oh * OW + ow, n * M + m); o_acc
//   (WRITE_ACCUMULATOR), R32I. With ih = oh * stride - pad + kh * dilation, taps outside X
//   skipped: FP32 y = act(sum X * W + bias); INT8 acc = sum (x_q - x_zero_point) * w_q,
//   y = act(float(acc) * x_scale * w_scale[m] + bias[m]).
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

#if QUANTIZED
uniform highp usampler2D u_x4;
uniform sampler2D u_params;
uniform highp isampler2D u_w;
uniform sampler2D u_w_scale;
#else
uniform sampler2D u_x4;
uniform sampler2D u_w;
#endif
uniform sampler2D u_bias;
uniform int u_bias_width;
uniform ivec4 u_in_dims;
uniform ivec4 u_out_dims;
uniform ivec2 u_kernel;
uniform ivec2 u_stride;
uniform ivec2 u_dilation;
uniform ivec2 u_pad_begin;
uniform ivec2 u_group_channels;
uniform vec2 u_act_params;

layout(location = 0) out float o_value;
#if WRITE_ACCUMULATOR
layout(location = 1) out int o_acc;
#endif

float per_channel(sampler2D table, int m) {
    return texelFetch(table, ivec2(m % u_bias_width, m / u_bias_width), 0).r;
}

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int ow = texel.x % u_out_dims.w;
    int oh = texel.x / u_out_dims.w;
    int m = texel.y % u_out_dims.y;
    int n = texel.y / u_out_dims.y;
    int groups4 = u_group_channels.x / 4;
    int x_row0 = n * (u_in_dims.y / 4) + (m / u_group_channels.y) * groups4;
    int ih0 = oh * u_stride.x - u_pad_begin.x;
    int iw0 = ow * u_stride.y - u_pad_begin.y;
#if QUANTIZED
    ivec4 zero_point = ivec4(int(texelFetch(u_params, ivec2(0, 0), 0).y));
    int acc = 0;
#else
    float acc = 0.0;
#endif
    for (int c4 = 0; c4 < groups4; ++c4) {
        int x_row = x_row0 + c4;
        int w_col0 = c4 * u_kernel.y;
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
#if QUANTIZED
                ivec4 x = ivec4(texelFetch(u_x4, ivec2(x_col0 + iw, x_row), 0)) - zero_point;
                ivec4 w = texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0);
                acc += x.x * w.x + x.y * w.y + x.z * w.z + x.w * w.w;
#else
                acc += dot(texelFetch(u_x4, ivec2(x_col0 + iw, x_row), 0),
                           texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0));
#endif
            }
        }
    }
#if QUANTIZED
    float y = float(acc) * texelFetch(u_params, ivec2(0, 0), 0).x * per_channel(u_w_scale, m);
#else
    float y = acc;
#endif
#if HAS_BIAS
    y += per_channel(u_bias, m);
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
