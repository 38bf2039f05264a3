#version 430
// One K segment of the integer matmul for one output tile (compute pass).
// Defines: LOCAL_SIZE, the workgroup side (LOCAL_SIZE x LOCAL_SIZE invocations).
// Inputs:
//   u_x_q        usampler2D, RGBA8UI piece of x_q (M x K uint8, four K values per texel).
//   u_w          isampler2D, RGBA8I piece of w_q transposed (N x K int8, padding past K is 0).
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_acc        iimage2D r32i at binding 0, the tile accumulator, read and written in place:
//                each invocation owns one texel.
//   u_has_acc    int, 1 to add to the stored accumulator, 0 to start from 0.
//   u_tile_size  ivec2, tile width (columns n) and height (rows m); invocations outside return.
//   u_x_row0, u_w_row0, u_t0, u_t1  as in dequant_matmul_block.frag.
// Output: u_acc texel (n_local, m_local):
//   acc = acc + sum over k in the segment of (x_q[m, k] - x_zero_point) * w_q[k, n]
// 32-bit integer arithmetic; overflow wraps like NumPy int32.
layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

uniform usampler2D u_x_q;
uniform isampler2D u_w;
uniform sampler2D u_params;
layout(r32i, binding = 0) uniform iimage2D u_acc;
uniform int u_has_acc;
uniform ivec2 u_tile_size;
uniform int u_x_row0;
uniform int u_w_row0;
uniform int u_t0;
uniform int u_t1;

void main() {
    ivec2 local = ivec2(gl_GlobalInvocationID.xy);
    if (local.x >= u_tile_size.x || local.y >= u_tile_size.y) {
        return;
    }
    int m = u_x_row0 + local.y;
    int n = u_w_row0 + local.x;
    ivec4 zero_point = ivec4(int(texelFetch(u_params, ivec2(0, 0), 0).y));
    int acc = u_has_acc != 0 ? imageLoad(u_acc, local).r : 0;
    for (int t = u_t0; t < u_t1; ++t) {
        ivec4 x = ivec4(texelFetch(u_x_q, ivec2(t, m), 0)) - zero_point;
        ivec4 w = texelFetch(u_w, ivec2(t, n), 0);
        acc += x.x * w.x + x.y * w.y + x.z * w.z + x.w * w.w;
    }
    imageStore(u_acc, local, ivec4(acc, 0, 0, 0));
}
