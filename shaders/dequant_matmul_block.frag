#version 300 es
// One K segment of the integer matmul for one output tile (fragment pass).
// Inputs:
//   u_x_q        usampler2D, RGBA8UI piece of x_q (M x K uint8, four K values per texel).
//   u_w          isampler2D, RGBA8I piece of w_q transposed (N x K int8, four K values per
//                texel; padding past K is 0, so padded texels add nothing).
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_acc_in     isampler2D, R32I tile accumulator of the previous segment; read only when
//                u_has_acc is 1 (it must never be the texture this pass renders into).
//   u_x_row0     int, x_q piece row of the tile's first row (output row m).
//   u_w_row0     int, w piece row of the tile's first column (output column n).
//   u_t0, u_t1   int, texel column range [u_t0, u_t1) of this segment in both pieces.
// Output: o_acc, R32I tile accumulator, texel (n_local, m_local):
//   acc = acc_in + sum over k in the segment of (x_q[m, k] - x_zero_point) * w_q[k, n]
// All arithmetic is 32-bit integer; overflow wraps (GLSL ES 3.00 keeps the low 32 bits),
// as NumPy int32 does.
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp isampler2D;
precision highp usampler2D;

uniform highp usampler2D u_x_q;
uniform highp isampler2D u_w;
uniform sampler2D u_params;
uniform highp isampler2D u_acc_in;
uniform int u_has_acc;
uniform int u_x_row0;
uniform int u_w_row0;
uniform int u_t0;
uniform int u_t1;

out int o_acc;

void main() {
    ivec2 local = ivec2(gl_FragCoord.xy);
    int m = u_x_row0 + local.y;
    int n = u_w_row0 + local.x;
    ivec4 zero_point = ivec4(int(texelFetch(u_params, ivec2(0, 0), 0).y));
    int acc = u_has_acc != 0 ? texelFetch(u_acc_in, local, 0).r : 0;
    for (int t = u_t0; t < u_t1; ++t) {
        ivec4 x = ivec4(texelFetch(u_x_q, ivec2(t, m), 0)) - zero_point;
        ivec4 w = texelFetch(u_w, ivec2(t, n), 0);
        acc += x.x * w.x + x.y * w.y + x.z * w.z + x.w * w.w;
    }
    o_acc = acc;
}
