#version 430
// FP32 matrix product with optional bias and fused activation (compute pass of op_gemm.frag).
// Defines: LOCAL_SIZE, workgroup side; HAS_BIAS 0 or 1; ACTIVATION 0 none, 1 Relu, 2 Clip,
//   3 Sigmoid, 4 LeakyRelu.
// Inputs: as in op_gemm.frag (u_a, u_b, u_bias and their widths, u_a_strides, u_b_strides,
//   u_mnk, u_alpha, u_act_params, u_out_width, u_out_size).
// Output: u_y, image2D r32f at binding 0, the flat-layout output texture; one invocation per
//   texel, texels past u_out_size are written as 0:
//   y[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[m, n])
layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif
#ifndef ACTIVATION
#define ACTIVATION 0
#endif

layout(r32f, binding = 0) uniform writeonly image2D u_y;
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

float fetch(sampler2D tensor, int width, int index) {
    return texelFetch(tensor, ivec2(index % width, index / width), 0).r;
}

void main() {
    ivec2 texel = ivec2(gl_GlobalInvocationID.xy);
    if (any(greaterThanEqual(texel, imageSize(u_y)))) {
        return;
    }
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        imageStore(u_y, texel, vec4(0.0));
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
    imageStore(u_y, texel, vec4(y, 0.0, 0.0, 0.0));
}
