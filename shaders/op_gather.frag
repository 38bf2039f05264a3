#version 300 es
// Data movement by an index map computed at plan time: Transpose, Gather with constant
// indices, Resize (nearest), Slice, Expand, Tile, DepthToSpace, SpaceToDepth.
// Inputs:
//   u_x            sampler2D, R32F flat-layout source, element i at texel (i % w, i / w).
//   u_x_width      int, source texture width.
//   u_map          isampler2D, R32I flat-layout map of the output's shape: output element i
//                  copies source element map[i].
//   u_map_width    int, map texture width.
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout texel: y[i] = x[map[i]]; texels past u_out_size get 0.
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp isampler2D;

uniform sampler2D u_x;
uniform highp isampler2D u_map;
uniform int u_x_width;
uniform int u_map_width;
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
    int source = texelFetch(u_map, ivec2(out_index % u_map_width, out_index / u_map_width), 0).r;
    o_value = texelFetch(u_x, ivec2(source % u_x_width, source / u_x_width), 0).r;
}
