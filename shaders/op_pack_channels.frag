#version 300 es
// Repack a (N, C, H, W) tensor in the plane layout into four channels per texel, so that a
// convolution fetches four input channels at once.
// Defines: QUANTIZED 0 for float X, 1 for the uint8 x_q of DynamicQuantizeLinear.
// Inputs:
//   u_x            QUANTIZED 0: sampler2D R32F, X[n, c, h, w] at texel (h * W + w, n * C + c).
//                  QUANTIZED 1: u_x_q, usampler2D RGBA8UI of the same matrix, four
//                  consecutive columns per texel (column h * W + w in channel w % 4).
// Output: o_value (vec4, RGBA32F) or o_quad (uvec4, RGBA8UI), texel (h * W + w, r), r being
//   n * C / 4 + c4:  channel j = X[n, 4 * c4 + j, h, w]. C must be a multiple of 4.
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp usampler2D;

#ifndef QUANTIZED
#define QUANTIZED 0
#endif

#if QUANTIZED
uniform highp usampler2D u_x_q;
out uvec4 o_quad;
#else
uniform sampler2D u_x;
out vec4 o_value;
#endif

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int row = 4 * texel.y;
#if QUANTIZED
    ivec2 packed_texel = ivec2(texel.x >> 2, 0);
    int lane = texel.x & 3;
    o_quad = uvec4(texelFetch(u_x_q, packed_texel + ivec2(0, row), 0)[lane],
                   texelFetch(u_x_q, packed_texel + ivec2(0, row + 1), 0)[lane],
                   texelFetch(u_x_q, packed_texel + ivec2(0, row + 2), 0)[lane],
                   texelFetch(u_x_q, packed_texel + ivec2(0, row + 3), 0)[lane]);
#else
    o_value = vec4(texelFetch(u_x, ivec2(texel.x, row), 0).r,
                   texelFetch(u_x, ivec2(texel.x, row + 1), 0).r,
                   texelFetch(u_x, ivec2(texel.x, row + 2), 0).r,
                   texelFetch(u_x, ivec2(texel.x, row + 3), 0).r);
#endif
}
