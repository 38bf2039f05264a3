#version 300 es
// 2-D transposed convolution (ConvTranspose), one output element per fragment, gathering the
// input taps that scatter onto it; a 1-D ConvTranspose is H = 1.
// Defines: QUANTIZED 0 FP32, 1 INT8; HAS_BIAS 0 or 1; ACTIVATION 0 none, 1 Relu, 2 Clip,
//   3 Sigmoid, 4 LeakyRelu.
// Inputs:
//   u_x            QUANTIZED 0: sampler2D, R32F flat-layout X (N, C, H, W), element i at
//                  texel (i % w, i / w). QUANTIZED 1: u_x_q, usampler2D RGBA8UI x_q of the same
//                  flat matrix, four consecutive columns per texel, and u_params, sampler2D
//                  RGBA32F 1x1 (x_scale, x_zero_point, 0, 0).
//   u_x_width      int, columns of X's flat matrix.
//   u_w            sampler2D R32F (FP32) or isampler2D R8I (INT8), flat W (C, M / group, KH, KW).
//   u_w_scale, u_bias  sampler2D, R32F flat (M) tables (w_scale: QUANTIZED 1).
//   u_w_width, u_bias_width  int, texture widths of W and of the per-channel tables.
//   u_in_dims ivec4 (N, C, H, W); u_out_dims ivec4 (N, M, OH, OW); u_kernel, u_stride,
//   u_dilation, u_pad_begin ivec2 (height, width); u_group_channels ivec2 (C / group,
//   M / group); u_act_params vec2 (Clip bounds, or LeakyRelu alpha in .x).
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout Y (N, M, OH, OW). Input (ih, iw) reaches output
// oh = ih * stride_h - pad_h + kh * dilation_h (likewise ow), so for each tap
// ih = (oh + pad_h - kh * dilation_h) / stride_h when that divides exactly and is inside X:
//   FP32: y = act(sum X[n, c, ih, iw] * W[c, m % (M / group), kh, kw] + bias[m])
//   INT8: acc = sum (x_q - x_zero_point) * w_q   (int32)
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

out float o_value;

float fetch(sampler2D tensor, int width, int index) {
    return texelFetch(tensor, ivec2(index % width, index / width), 0).r;
}

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        o_value = 0.0;
        return;
    }
    int ow = out_index % u_out_dims.w;
    int oh = (out_index / u_out_dims.w) % u_out_dims.z;
    int m = (out_index / (u_out_dims.w * u_out_dims.z)) % u_out_dims.y;
    int n = out_index / (u_out_dims.w * u_out_dims.z * u_out_dims.y);
    int group = m / u_group_channels.y;
    int m_local = m - group * u_group_channels.y;
    int c0 = group * u_group_channels.x;
#if QUANTIZED
    int zero_point = int(texelFetch(u_params, ivec2(0, 0), 0).y);
    int acc = 0;
#else
    float acc = 0.0;
#endif
    for (int c = 0; c < u_group_channels.x; ++c) {
        int x_plane = (n * u_in_dims.y + c0 + c) * u_in_dims.z;
        int w_plane = ((c0 + c) * u_group_channels.y + m_local) * u_kernel.x;
        for (int kh = 0; kh < u_kernel.x; ++kh) {
            int th = oh + u_pad_begin.x - kh * u_dilation.x;
            if (th < 0 || th % u_stride.x != 0 || th / u_stride.x >= u_in_dims.z) {
                continue;
            }
            int x_row = (x_plane + th / u_stride.x) * u_in_dims.w;
            int w_row = (w_plane + kh) * u_kernel.y;
            for (int kw = 0; kw < u_kernel.y; ++kw) {
                int tw = ow + u_pad_begin.y - kw * u_dilation.y;
                if (tw < 0 || tw % u_stride.y != 0 || tw / u_stride.y >= u_in_dims.w) {
                    continue;
                }
                int x_index = x_row + tw / u_stride.y;
                int w_index = w_row + kw;
#if QUANTIZED
                int col = x_index % u_x_width;
                uvec4 quad = texelFetch(u_x_q, ivec2(col >> 2, x_index / u_x_width), 0);
                int w = texelFetch(u_w, ivec2(w_index % u_w_width, w_index / u_w_width), 0).r;
                acc += (int(quad[col & 3]) - zero_point) * w;
#else
                acc += fetch(u_x, u_x_width, x_index) * fetch(u_w, u_w_width, w_index);
#endif
            }
        }
    }
#if QUANTIZED
    float y = float(acc) * texelFetch(u_params, ivec2(0, 0), 0).x
        * fetch(u_w_scale, u_bias_width, m);
#else
    float y = acc;
#endif
#if HAS_BIAS
    y += fetch(u_bias, u_bias_width, m);
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
}
