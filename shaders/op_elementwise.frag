#version 300 es
// Fused elementwise pass: up to four broadcast inputs combined by one generated expression.
// Defines: INPUT_COUNT 1..4; EXPRESSION, a GLSL expression of v0..v3 and u_params[i] built
//   from the functions below (default: v0, a copy); MAX_RANK, the index rank (6).
// Inputs:
//   u_in0..u_in3   sampler2D, R32F flat-layout tensors: element i at texel (i % w, i / w).
//   u_in_width     int[4], texture width of each input.
//   u_in_strides   int[4 * MAX_RANK], strides mapping an output index to each input's flat
//                  index (0 on broadcast axes), rank left-padded to MAX_RANK.
//   u_out_dims     int[MAX_RANK], output shape left-padded with 1s.
//   u_params       float[16], scalar constants and attributes (alpha, clip bounds, QDQ
//                  scale and zero point ...).
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout texel; texels past u_out_size are written as 0.
// Formula: y[i] = EXPRESSION(v0 = in0[idx0(i)], ..., v3 = in3[idx3(i)]), where
//   idx_k(i) = sum over axes d of coord_d(i) * u_in_strides[k * MAX_RANK + d].
precision highp float;
precision highp int;
precision highp sampler2D;

#ifndef INPUT_COUNT
#define INPUT_COUNT 1
#endif
#ifndef EXPRESSION
#define EXPRESSION v0
#endif
#ifndef MAX_RANK
#define MAX_RANK 6
#endif

uniform sampler2D u_in0;
uniform sampler2D u_in1;
uniform sampler2D u_in2;
uniform sampler2D u_in3;
uniform int u_in_width[4];
uniform int u_in_strides[4 * MAX_RANK];
uniform int u_out_dims[MAX_RANK];
uniform float u_params[16];
uniform int u_out_width;
uniform int u_out_size;

out float o_value;

float fetch(sampler2D tensor, int width, int index) {
    return texelFetch(tensor, ivec2(index % width, index / width), 0).r;
}

int input_index(int k, int out_index) {
    int index = 0;
    int rest = out_index;
    for (int d = MAX_RANK - 1; d >= 0; --d) {
        int coord = rest % u_out_dims[d];
        rest /= u_out_dims[d];
        index += coord * u_in_strides[k * MAX_RANK + d];
    }
    return index;
}

// A NaN operand gives NaN in every function below, as in NumPy. GLSL leaves max, min and
// clamp of a NaN to the driver, and compilers turn a compare-and-select into them.
float op_clamp(float x, float lo, float hi) { return isnan(x) ? x : clamp(x, lo, hi); }
float op_max(float a, float b) { return isnan(a) || isnan(b) ? a + b : max(a, b); }
float op_min(float a, float b) { return isnan(a) || isnan(b) ? a + b : min(a, b); }
float op_relu(float x) { return isnan(x) ? x : max(x, 0.0); }
float op_leaky_relu(float x, float alpha) { return x >= 0.0 ? x : alpha * x; }
float op_sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }
float op_hard_sigmoid(float x, float alpha, float beta) {
    return op_clamp(alpha * x + beta, 0.0, 1.0);
}
float op_hard_swish(float x) { return x * op_clamp(x / 6.0 + 0.5, 0.0, 1.0); }
// tanh from exp keeps |x| large finite: GLSL's tanh may return NaN past ~44 on some drivers.
float op_tanh(float x) {
    float e = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - e) / (1.0 + e);
}
float op_elu(float x, float alpha) { return x >= 0.0 ? x : alpha * (exp(x) - 1.0); }
float op_softplus(float x) { return x > 20.0 ? x : log(1.0 + exp(x)); }
float op_clip(float x, float lo, float hi) { return op_clamp(x, lo, hi); }
// ONNX QuantizeLinear then DequantizeLinear with one scale and zero point for the tensor.
float op_qdq(float x, float scale, float zero_point, float qmin, float qmax) {
    float q = clamp(roundEven(x / scale) + zero_point, qmin, qmax);
    return (q - zero_point) * scale;
}

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        o_value = 0.0;
        return;
    }
    float v0 = fetch(u_in0, u_in_width[0], input_index(0, out_index));
#if INPUT_COUNT > 1
    float v1 = fetch(u_in1, u_in_width[1], input_index(1, out_index));
#endif
#if INPUT_COUNT > 2
    float v2 = fetch(u_in2, u_in_width[2], input_index(2, out_index));
#endif
#if INPUT_COUNT > 3
    float v3 = fetch(u_in3, u_in_width[3], input_index(3, out_index));
#endif
    o_value = EXPRESSION;
}
