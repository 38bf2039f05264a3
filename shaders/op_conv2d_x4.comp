#version 430
// 2-D convolution as a compute pass computing four consecutive output channels per invocation,
// so every input tap is fetched once for four multiply-adds.
// Requires the plane layouts: X (N, C, H, W) with one H x W plane per texture row (texel
// (h * W + w, n * C + c)), Y the same for (N, M, OH, OW), and M / group a multiple of 4.
// Defines: LOCAL_SIZE, workgroup side; QUANTIZED 0 FP32, 1 INT8; HAS_BIAS; ACTIVATION 0 none,
//   1 Relu, 2 Clip, 3 Sigmoid, 4 LeakyRelu; WRITE_ACCUMULATOR (QUANTIZED only).
// Inputs:
//   u_x            QUANTIZED 0: sampler2D R32F X. QUANTIZED 1: u_x_q, usampler2D RGBA8UI x_q
//                  of the same matrix, four consecutive columns per texel, and u_params,
//                  sampler2D RGBA32F 1x1 (x_scale, x_zero_point, 0, 0).
//   u_w            sampler2D RGBA32F (FP32) or isampler2D RGBA8I (INT8): texel
//                  (c * KW + kw, m4 * KH + kh) holds W[4 * m4 + j, c, kh, kw] in channel j.
//   u_w_scale, u_bias  sampler2D R32F flat (M) tables; u_bias_width their texture width.
//   u_in_dims ivec4 (N, C, H, W); u_out_dims ivec4 (N, M, OH, OW); u_kernel, u_stride,
//   u_dilation, u_pad_begin ivec2 (height, width); u_group_channels ivec2 (C / group,
//   M / group); u_act_params vec2 (Clip bounds, or LeakyRelu alpha in .x).
// Outputs: u_y, image2D r32f at binding 0 (Y); u_acc_out, iimage2D r32i at binding 1
//   (WRITE_ACCUMULATOR). Invocation (x, y) writes texels (x, 4 * y + j), j = 0..3.
// Formula (as op_conv2d.frag), with ih = oh * stride - pad + kh * dilation, taps outside X
// skipped: FP32 y = act(sum X * W + bias); INT8 acc = sum (x_q - x_zero_point) * w_q,
//   y = act(float(acc) * x_scale * w_scale[m] + bias[m]).
layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

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
uniform usampler2D u_x_q;
uniform sampler2D u_params;
uniform isampler2D u_w;
uniform sampler2D u_w_scale;
#else
uniform sampler2D u_x;
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

layout(r32f, binding = 0) uniform writeonly image2D u_y;
#if WRITE_ACCUMULATOR
layout(r32i, binding = 1) uniform writeonly iimage2D u_acc_out;
#endif

float per_channel(sampler2D table, int m) {
    return texelFetch(table, ivec2(m % u_bias_width, m / u_bias_width), 0).r;
}

float activate(float y) {
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
    return y;
}

void main() {
    int col = int(gl_GlobalInvocationID.x);
    int row4 = int(gl_GlobalInvocationID.y);
    int channels4 = u_out_dims.y / 4;
    if (col >= u_out_dims.z * u_out_dims.w || row4 >= u_out_dims.x * channels4) {
        return;
    }
    int ow = col % u_out_dims.w;
    int oh = col / u_out_dims.w;
    int m4 = row4 % channels4;
    int n = row4 / channels4;
    int m0 = 4 * m4;
    int c0 = (m0 / u_group_channels.y) * u_group_channels.x;
    int ih0 = oh * u_stride.x - u_pad_begin.x;
    int iw0 = ow * u_stride.y - u_pad_begin.y;
#if QUANTIZED
    int zero_point = int(texelFetch(u_params, ivec2(0, 0), 0).y);
    ivec4 acc = ivec4(0);
#else
    vec4 acc = vec4(0.0);
#endif
    for (int c = 0; c < u_group_channels.x; ++c) {
        int x_row = n * u_in_dims.y + c0 + c;
        int w_col0 = c * u_kernel.y;
        for (int kh = 0; kh < u_kernel.x; ++kh) {
            int ih = ih0 + kh * u_dilation.x;
            if (ih < 0 || ih >= u_in_dims.z) {
                continue;
            }
            int x_col0 = ih * u_in_dims.w;
            int w_row = m4 * u_kernel.x + kh;
            for (int kw = 0; kw < u_kernel.y; ++kw) {
                int iw = iw0 + kw * u_dilation.y;
                if (iw < 0 || iw >= u_in_dims.w) {
                    continue;
                }
                int x_col = x_col0 + iw;
#if QUANTIZED
                uvec4 quad = texelFetch(u_x_q, ivec2(x_col >> 2, x_row), 0);
                acc += (int(quad[x_col & 3]) - zero_point)
                    * texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0);
#else
                acc += texelFetch(u_x, ivec2(x_col, x_row), 0).r
                    * texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0);
#endif
            }
        }
    }
#if QUANTIZED
    float x_scale = texelFetch(u_params, ivec2(0, 0), 0).x;
#endif
    for (int j = 0; j < 4; ++j) {
        int m = m0 + j;
#if QUANTIZED
        float y = float(acc[j]) * x_scale * per_channel(u_w_scale, m);
#else
        float y = acc[j];
#endif
#if HAS_BIAS
        y += per_channel(u_bias, m);
#endif
        ivec2 texel = ivec2(col, n * u_out_dims.y + m);
        imageStore(u_y, texel, vec4(activate(y), 0.0, 0.0, 0.0));
#if WRITE_ACCUMULATOR
        imageStore(u_acc_out, texel, ivec4(acc[j], 0, 0, 0));
#endif
    }
}
