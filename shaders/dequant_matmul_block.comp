#version 430
// One K segment of the integer matmul for one output tile (compute pass), register-blocked.
// Defines: LOCAL_SIZE, the workgroup side (LOCAL_SIZE x LOCAL_SIZE invocations);
//          BLOCK_ROWS, output rows per invocation: 1, 2, 4, 8 or 16 (default 16).
// Each invocation computes a block of BLOCK_ROWS rows x 8 columns of the tile, so each loaded
// x_q texel feeds 8 outputs and each w_q texel BLOCK_ROWS outputs: per texel column t it does
// BLOCK_ROWS + 8 loads and BLOCK_ROWS * 32 multiply-adds. The inputs are read with imageLoad,
// which Mesa llvmpipe runs about twice as fast as texelFetch.
// Inputs:
//   u_x_q        uimage2D rgba8ui at binding 1, piece of x_q (M x K uint8, four K values per
//                texel).
//   u_w          iimage2D rgba8i at binding 2, piece of w_q transposed (N x K int8; padding
//                past K is 0, so padded texels add nothing).
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_acc        iimage2D r32i at binding 0, the tile accumulator, read and written in place:
//                each invocation owns its block's texels.
//   u_has_acc    int, 1 to add to the stored accumulator, 0 to start from 0.
//   u_tile_size  ivec2, tile width (columns n) and height (rows m). Rows and columns of a
//                block past the tile load the tile's last row or column and are not stored.
//   u_x_row0, u_w_row0, u_t0, u_t1  as in dequant_matmul_block.frag.
// Output: u_acc texel (n_local, m_local):
//   acc = acc + sum over k in the segment of (x_q[m, k] - x_zero_point) * w_q[k, n]
// 32-bit integer arithmetic; overflow wraps like NumPy int32.
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 8
#endif
#ifndef BLOCK_ROWS
#define BLOCK_ROWS 16
#endif

layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

layout(rgba8ui, binding = 1) uniform readonly uimage2D u_x_q;
layout(rgba8i, binding = 2) uniform readonly iimage2D u_w;
uniform sampler2D u_params;
layout(r32i, binding = 0) uniform iimage2D u_acc;
uniform int u_has_acc;
uniform ivec2 u_tile_size;
uniform int u_x_row0;
uniform int u_w_row0;
uniform int u_t0;
uniform int u_t1;

#define DOT4(a, b) ((a).x * (b).x + (a).y * (b).y + (a).z * (b).z + (a).w * (b).w)

#define ROW_STEP(ROW) { \
    ivec4 x = ivec4(imageLoad(u_x_q, ivec2(t, x_rows[ROW]))) - zero_point; \
    acc_lo[ROW] += ivec4(DOT4(x, w0), DOT4(x, w1), DOT4(x, w2), DOT4(x, w3)); \
    acc_hi[ROW] += ivec4(DOT4(x, w4), DOT4(x, w5), DOT4(x, w6), DOT4(x, w7)); }

#define LOAD_ROW(ROW) { \
    ivec2 p = block0 + ivec2(0, ROW); \
    acc_lo[ROW] = ivec4(imageLoad(u_acc, p).r, imageLoad(u_acc, p + ivec2(1, 0)).r, \
                      imageLoad(u_acc, p + ivec2(2, 0)).r, imageLoad(u_acc, p + ivec2(3, 0)).r); \
    acc_hi[ROW] = ivec4(imageLoad(u_acc, p + ivec2(4, 0)).r, imageLoad(u_acc, p + ivec2(5, 0)).r, \
                      imageLoad(u_acc, p + ivec2(6, 0)).r, imageLoad(u_acc, p + ivec2(7, 0)).r); }

#define STORE_ROW(ROW) if (block0.y + ROW < u_tile_size.y) { \
    ivec2 p = block0 + ivec2(0, ROW); \
    for (int c = 0; c < 4; ++c) { \
        if (p.x + c < u_tile_size.x) imageStore(u_acc, p + ivec2(c, 0), ivec4(acc_lo[ROW][c])); \
        if (p.x + c + 4 < u_tile_size.x) imageStore(u_acc, p + ivec2(c + 4, 0), \
                                                    ivec4(acc_hi[ROW][c])); \
    } }

// APPLY(F) expands to F(0) F(1) ... F(BLOCK_ROWS - 1): the block rows, unrolled.
#if BLOCK_ROWS == 1
#define APPLY(F) F(0)
#elif BLOCK_ROWS == 2
#define APPLY(F) F(0) F(1)
#elif BLOCK_ROWS == 4
#define APPLY(F) F(0) F(1) F(2) F(3)
#elif BLOCK_ROWS == 8
#define APPLY(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7)
#else
#define APPLY(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) \
                 F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)
#endif

#define ZERO_ROW(ROW) { acc_lo[ROW] = ivec4(0); acc_hi[ROW] = ivec4(0); }
#define ROW_INDEX(ROW) x_rows[ROW] = u_x_row0 + min(block0.y + ROW, u_tile_size.y - 1);

void main() {
    // Accumulators of row r: columns 0-3 in acc_lo[r], columns 4-7 in acc_hi[r]. The macros
    // index them with constants only, so the compiler keeps them in registers.
    ivec4 acc_lo[BLOCK_ROWS];
    ivec4 acc_hi[BLOCK_ROWS];
    int x_rows[BLOCK_ROWS];
    ivec2 block0 = ivec2(gl_GlobalInvocationID.xy) * ivec2(8, BLOCK_ROWS);
    if (block0.x >= u_tile_size.x || block0.y >= u_tile_size.y) {
        return;
    }
    ivec4 zero_point = ivec4(int(texelFetch(u_params, ivec2(0, 0), 0).y));
    if (u_has_acc != 0) {
        APPLY(LOAD_ROW)
    } else {
        APPLY(ZERO_ROW)
    }
    APPLY(ROW_INDEX)
    int last_column = u_tile_size.x - 1;
    int n0 = u_w_row0 + min(block0.x, last_column);
    int n1 = u_w_row0 + min(block0.x + 1, last_column);
    int n2 = u_w_row0 + min(block0.x + 2, last_column);
    int n3 = u_w_row0 + min(block0.x + 3, last_column);
    int n4 = u_w_row0 + min(block0.x + 4, last_column);
    int n5 = u_w_row0 + min(block0.x + 5, last_column);
    int n6 = u_w_row0 + min(block0.x + 6, last_column);
    int n7 = u_w_row0 + min(block0.x + 7, last_column);
    for (int t = u_t0; t < u_t1; ++t) {
        ivec4 w0 = imageLoad(u_w, ivec2(t, n0));
        ivec4 w1 = imageLoad(u_w, ivec2(t, n1));
        ivec4 w2 = imageLoad(u_w, ivec2(t, n2));
        ivec4 w3 = imageLoad(u_w, ivec2(t, n3));
        ivec4 w4 = imageLoad(u_w, ivec2(t, n4));
        ivec4 w5 = imageLoad(u_w, ivec2(t, n5));
        ivec4 w6 = imageLoad(u_w, ivec2(t, n6));
        ivec4 w7 = imageLoad(u_w, ivec2(t, n7));
        APPLY(ROW_STEP)
    }
    APPLY(STORE_ROW)
}
