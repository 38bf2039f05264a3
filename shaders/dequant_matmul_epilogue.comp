#version 430
// Dequantize one output tile's int32 accumulator, add bias and apply the activation (compute).
// Defines: LOCAL_SIZE; ACTIVATION 0 none, 1 Relu, 2 Clip, 3 Sigmoid; HAS_BIAS 0 or 1;
//          WRITE_ACCUMULATOR 1 also copies the accumulator into u_acc_out.
// Inputs:
//   u_acc        iimage2D r32i at binding 0, the tile accumulator, texel (n_local, m_local).
//   u_tile0      ivec2, output-piece texel of the tile's first element (n0, m0).
//   u_tile_size  ivec2, tile width and height; invocations outside return.
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_w_scale, u_bias  sampler2D, R32F pieces (1 x N) matching the output piece's columns.
//   u_clip_min, u_clip_max  float, bounds of Clip.
// Outputs: u_y, image2D r32f at binding 1, the output piece; u_acc_out, iimage2D r32i at
//   binding 2 (WRITE_ACCUMULATOR), the full accumulator piece.
// Formula: y = activation(float(acc) * x_scale * w_scale[n] + bias[n]),
//   Sigmoid(v) = 1 / (1 + exp(-v)), Clip(v) = clamp(v, u_clip_min, u_clip_max).
layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

layout(r32i, binding = 0) uniform readonly iimage2D u_acc;
layout(r32f, binding = 1) uniform writeonly image2D u_y;
#if WRITE_ACCUMULATOR
layout(r32i, binding = 2) uniform writeonly iimage2D u_acc_out;
#endif
uniform ivec2 u_tile0;
uniform ivec2 u_tile_size;
uniform sampler2D u_params;
uniform sampler2D u_w_scale;
uniform sampler2D u_bias;
uniform float u_clip_min;
uniform float u_clip_max;

void main() {
    ivec2 local = ivec2(gl_GlobalInvocationID.xy);
    if (local.x >= u_tile_size.x || local.y >= u_tile_size.y) {
        return;
    }
    ivec2 texel = u_tile0 + local;
    int acc = imageLoad(u_acc, local).r;
    float x_scale = texelFetch(u_params, ivec2(0, 0), 0).x;
    float y = float(acc) * x_scale * texelFetch(u_w_scale, ivec2(texel.x, 0), 0).r;
#if HAS_BIAS
    y += texelFetch(u_bias, ivec2(texel.x, 0), 0).r;
#endif
#if ACTIVATION == 1
    y = max(y, 0.0);
#elif ACTIVATION == 2
    y = clamp(y, u_clip_min, u_clip_max);
#elif ACTIVATION == 3
    y = 1.0 / (1.0 + exp(-y));
#endif
    imageStore(u_y, texel, vec4(y, 0.0, 0.0, 0.0));
#if WRITE_ACCUMULATOR
    imageStore(u_acc_out, texel, ivec4(acc, 0, 0, 0));
#endif
}
