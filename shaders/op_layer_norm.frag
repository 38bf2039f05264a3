#version 300 es
// LayerNormalization over the trailing dimensions from axis on (inference, first output).
// Defines: HAS_BIAS 0 or 1.
// Inputs:
//   u_x            sampler2D, R32F flat-layout X, element i at texel (i % w, i / w).
//   u_scale, u_bias  sampler2D, R32F flat tables of the normalized block's size (Scale, B
//                  broadcast to the normalized shape at plan time).
//   u_x_width, u_scale_width  int, texture widths (u_bias shares u_scale's layout).
//   u_block        int, elements per normalized block (product of the dimensions from axis).
//   u_epsilon      float.
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout Y of X's shape; over the block of element i:
//   y = (x - mean) / sqrt(var + epsilon) * scale[i % block] + bias[i % block],
//   var = mean((x - mean)^2)   (population variance, as the ONNX function body computes)
precision highp float;
precision highp int;
precision highp sampler2D;

#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif

uniform sampler2D u_x;
uniform sampler2D u_scale;
uniform sampler2D u_bias;
uniform int u_x_width;
uniform int u_scale_width;
uniform int u_block;
uniform float u_epsilon;
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
    int position = out_index % u_block;
    int base = out_index - position;
    float total = 0.0;
    for (int j = 0; j < u_block; ++j) {
        total += fetch(u_x, u_x_width, base + j);
    }
    float mean = total / float(u_block);
    float squares = 0.0;
    for (int j = 0; j < u_block; ++j) {
        float centered = fetch(u_x, u_x_width, base + j) - mean;
        squares += centered * centered;
    }
    float variance = squares / float(u_block);
    float y = (fetch(u_x, u_x_width, out_index) - mean) / sqrt(variance + u_epsilon)
        * fetch(u_scale, u_scale_width, position);
#if HAS_BIAS
    y += fetch(u_bias, u_scale_width, position);
#endif
    o_value = y;
}
