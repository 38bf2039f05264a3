#version 300 es
// FP32 matrix product with optional bias and fused activation (MatMul, Gemm).
// Defines: HAS_BIAS 0 or 1; ACTIVATION 0 none, 1 Relu, 2 Clip, 3 Sigmoid, 4 LeakyRelu.
// Inputs:
//   u_a, u_b       sampler2D, R32F flat-layout tensors (element i at texel (i % w, i / w)).
//   u_a_width, u_b_width  int, their texture widths.
//   u_a_strides    ivec3, flat-index strides of A along (batch, m, k); transA swaps m and k.
//   u_b_strides    ivec3, strides of B along (batch, k, n); batch stride 0 for a shared B.
//   u_mnk          ivec3, (M, N, K) of one product.
//   u_alpha        float, Gemm's alpha (1 for MatMul).
//   u_bias         sampler2D, R32F flat (M x N) bias, already multiplied by beta.
//   u_bias_width   int; u_act_params vec2 (Clip min/max, or LeakyRelu alpha in .x).
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout texel of y, shape (batch..., M, N):
//   y[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[m, n])
precision highp float;
precision highp int;
precision highp sampler2D;

#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif
#ifndef ACTIVATION
#define ACTIVATION 0
#endif

uniform sampler2D u_a;
uniform sampler2D u_b;
uniform sampler2D u_bias;
uniform int u_a_width;
uniform int u_b_width;
uniform int u_bias_width;
uniform ivec3 u_a_strides;
uniform ivec3 u_b_strides;
uniform ivec3 u_mnk;
uniform float u_alpha;
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
    int n = out_index % u_mnk.y;
    int m = (out_index / u_mnk.y) % u_mnk.x;
    int batch = out_index / (u_mnk.x * u_mnk.y);
    int a_index = batch * u_a_strides.x + m * u_a_strides.y;
    int b_index = batch * u_b_strides.x + n * u_b_strides.z;
    float acc = 0.0;
    for (int k = 0; k < u_mnk.z; ++k) {
        acc += fetch(u_a, u_a_width, a_index) * fetch(u_b, u_b_width, b_index);
        a_index += u_a_strides.z;
        b_index += u_b_strides.y;
    }
    float y = u_alpha * acc;
#if HAS_BIAS
    y += fetch(u_bias, u_bias_width, m * u_mnk.y + n);
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
