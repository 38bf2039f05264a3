#version 300 es
// Softmax or LogSoftmax along one axis of a flat-layout tensor.
// Defines: LOG 0 Softmax, 1 LogSoftmax.
// Inputs:
//   u_x            sampler2D, R32F flat-layout X, element i at texel (i % w, i / w).
//   u_x_width      int, X's texture width.
//   u_axis_size    int, elements along the reduced axis (for opset < 13, the product of the
//                  dimensions from axis on, which is the spec's 2-D coercion).
//   u_inner        int, product of the dimensions after the axis (1 for opset < 13).
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout Y of X's shape; over the axis positions j of element i:
//   Softmax: y = exp(x_i - max_j x_j) / sum_j exp(x_j - max_j x_j)
//   LogSoftmax: y = x_i - max_j x_j - log(sum_j exp(x_j - max_j x_j))
precision highp float;
precision highp int;
precision highp sampler2D;

#ifndef LOG
#define LOG 0
#endif

uniform sampler2D u_x;
uniform int u_x_width;
uniform int u_axis_size;
uniform int u_inner;
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
    int inner = out_index % u_inner;
    int base = (out_index / (u_inner * u_axis_size)) * u_inner * u_axis_size + inner;
    float largest = -3.4028234e38;
    for (int j = 0; j < u_axis_size; ++j) {
        // A NaN anywhere on the axis makes every output NaN, as in NumPy.
        float value = fetch(u_x, u_x_width, base + j * u_inner);
        largest = isnan(largest) || isnan(value) ? largest + value : max(largest, value);
    }
    float total = 0.0;
    for (int j = 0; j < u_axis_size; ++j) {
        total += exp(fetch(u_x, u_x_width, base + j * u_inner) - largest);
    }
    float shifted = fetch(u_x, u_x_width, out_index) - largest;
#if LOG
    o_value = shifted - log(total);
#else
    o_value = exp(shifted) / total;
#endif
}
