#version 300 es
// Dequantize one output tile's int32 accumulator, add bias and apply the activation.
// Defines: ACTIVATION 0 none, 1 Relu, 2 Clip, 3 Sigmoid; HAS_BIAS 0 or 1;
//          WRITE_ACCUMULATOR 1 also copies the accumulator to a second R32I attachment;
//          BLOCK_ROWS 1, 2, 4 or 8 (default 4), the block rows of dequant_matmul_block.frag.
// Inputs:
//   u_acc        isampler2D[BLOCK_ROWS], RGBA32I tile accumulators written by
//                dequant_matmul_block.frag: tile output (n_local, m_local) =
//                (n - tile n0, m - tile m0) is channel n_local % 4 of texel
//                (n_local / 4, m_local / BLOCK_ROWS) of u_acc[m_local % BLOCK_ROWS].
//   u_tile0      ivec2, output-piece texel of the tile's first element (n0, m0).
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_w_scale    sampler2D, R32F piece of w_scale (1 x N), column n of the output piece.
//   u_bias       sampler2D, R32F piece of bias (1 x N), same columns.
//   u_clip_min, u_clip_max  float, bounds of Clip.
// Outputs: o_y, R32F output piece texel (n, m); o_acc (WRITE_ACCUMULATOR) R32I copy of acc.
// Formula: y = activation(float(acc) * x_scale * w_scale[n] + bias[n]),
//   Sigmoid(v) = 1 / (1 + exp(-v)), Clip(v) = clamp(v, u_clip_min, u_clip_max).
#ifndef BLOCK_ROWS
#define BLOCK_ROWS 4
#endif

precision highp float;
precision highp int;
precision highp sampler2D;
precision highp isampler2D;

uniform highp isampler2D u_acc[BLOCK_ROWS];
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

// APPLY(F) expands to F(0) F(1) ... F(BLOCK_ROWS - 1); GLSL ES 3.00 indexes sampler arrays
// with constants only.
#if BLOCK_ROWS == 1
#define APPLY(F) F(0)
#elif BLOCK_ROWS == 2
#define APPLY(F) F(0) F(1)
#elif BLOCK_ROWS == 4
#define APPLY(F) F(0) F(1) F(2) F(3)
#else
#define APPLY(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7)
#endif
#define PICK_ROW(ROW) if (row == ROW) { accs = texelFetch(u_acc[ROW], cell, 0); }

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    ivec2 local = texel - u_tile0;
    ivec2 cell = ivec2(local.x / 4, local.y / BLOCK_ROWS);
    int row = local.y % BLOCK_ROWS;
    ivec4 accs = ivec4(0);
    APPLY(PICK_ROW)
    int acc = accs[local.x % 4];
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
