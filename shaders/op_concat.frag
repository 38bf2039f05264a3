#version 300 es
// One input of Concat copied into its slice of the output; one pass per input.
// Inputs:
//   u_x            sampler2D, R32F flat-layout input, element i at texel (i % w, i / w).
//   u_x_width      int, its texture width.
//   u_axis_out     int, output size along the concat axis.
//   u_inner        int, product of the dimensions after the axis.
//   u_axis_offset, u_axis_size  int, this input's first position and size along the axis.
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout texel. With output index i = (outer * axis_out + a) *
// inner + j: y[i] = x[(outer * axis_size + a - axis_offset) * inner + j] when a lies in
// [axis_offset, axis_offset + axis_size); other texels are discarded and keep what another
// input's pass wrote.
precision highp float;
precision highp int;
precision highp sampler2D;

uniform sampler2D u_x;
uniform int u_x_width;
uniform int u_axis_out;
uniform int u_inner;
uniform int u_axis_offset;
uniform int u_axis_size;
uniform int u_out_width;
uniform int u_out_size;

out float o_value;

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        o_value = 0.0;
        return;
    }
    int j = out_index % u_inner;
    int a = (out_index / u_inner) % u_axis_out - u_axis_offset;
    if (a < 0 || a >= u_axis_size) {
        discard;
    }
    int outer = out_index / (u_inner * u_axis_out);
    int source = (outer * u_axis_size + a) * u_inner + j;
    o_value = texelFetch(u_x, ivec2(source % u_x_width, source / u_x_width), 0).r;
}
