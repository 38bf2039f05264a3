#version 300 es
// Scale and zero point of DynamicQuantizeLinear (ONNX, uint8 output) from the tensor's min/max.
// Input: u_minmax, RG32F 1x1, (min, max) of the whole tensor.
// Output: o_params, RGBA32F 1x1, (y_scale, y_zero_point as a whole float, 0, 0).
// Formula (the ONNX reference evaluator's, qmin = 0, qmax = 255):
//   x_max = max(0, max), x_min = min(0, min)          the range always includes 0
//   y_scale = (x_max == x_min ? 1 : x_max - x_min) / 255
//   y_zero_point = roundEven(clamp(0 - x_min / y_scale, 0, 255))
precision highp float;
precision highp int;
precision highp sampler2D;

uniform sampler2D u_minmax;

out vec4 o_params;

void main() {
    vec2 minmax = texelFetch(u_minmax, ivec2(0, 0), 0).rg;
    float x_min = min(0.0, minmax.r);
    float x_max = max(0.0, minmax.g);
    float y_scale = (x_max == x_min ? 1.0 : x_max - x_min) / 255.0;
    float y_zero_point = roundEven(clamp(0.0 - x_min / y_scale, 0.0, 255.0));
    o_params = vec4(y_scale, y_zero_point, 0.0, 0.0);
}
