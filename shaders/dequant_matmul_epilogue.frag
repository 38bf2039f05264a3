#version 300 es
// Dequantize one output tile's int32 accumulator, add bias and apply the activation.
// Defines: ACTIVATION 0 none, 1 Relu, 2 Clip, 3 Sigmoid; HAS_BIAS 0 or 1;
//          WRITE_ACCUMULATOR 1 also copies the accumulator to a second R32I attachment.
// Inputs:
//   u_acc        isampler2D, R32I tile accumulator, texel (n - tile n0, m - tile m0).
//   u_tile0      ivec2, output-piece texel of the tile's first element (n0, m0).
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_w_scale    sampler2D, R32F piece of w_scale (1 x N), column n of the output piece.
//   u_bias       sampler2D, R32F piece of bias (1 x N), same columns.
//   u_clip_min, u_clip_max  float, bounds of Clip.
// Outputs: o_y, R32F output piece texel (n, m); o_acc (WRITE_ACCUMULATOR) R32I copy of acc.
// Formula: y = activation(float(acc) * x_scale * w_scale[n] + bias[n]),
//   Sigmoid(v) = 1 / (1 + exp(-v)), Clip(v) = clamp(v, u_clip_min, u_clip_max).
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp isampler2D;

uniform highp isampler2D u_acc;
uniform ivec2 u_tile0;
uniform sampler2D u_params;
uniform sampler2D u_w_scale;
uniform sampler2D u_bias;
uniform float u_clip_min;
uniform float u_clip_max;

layout(location = 0) out float o_y;
#if WRITE_ACCUMULATOR
layout(location = 1) out int o_acc;
#endif

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int acc = texelFetch(u_acc, texel - u_tile0, 0).r;
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
    o_y = y;
#if WRITE_ACCUMULATOR
    o_acc = acc;
#endif
}
