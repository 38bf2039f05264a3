#version 300 es
// One K segment of the integer matmul for one output tile (fragment pass), register-blocked.
// Defines: BLOCK_ROWS, output rows per fragment: 1, 2, 4 or 8 (default 4), one render target
//          per row. WebGL2 guarantees 4 draw buffers; 8 needs MAX_DRAW_BUFFERS >= 8.
// Each fragment computes a block of BLOCK_ROWS rows x 4 columns of the tile: row r of the block
// goes to render target r, its 4 columns to the RGBA channels of one RGBA32I texel. Each
// fetched x_q texel feeds 4 outputs and each w_q texel BLOCK_ROWS outputs: per texel column t
// it does BLOCK_ROWS + 4 fetches and BLOCK_ROWS * 16 multiply-adds.
// Accumulator layout: tile output (n_local, m_local) is channel n_local % 4 of texel
// (n_local / 4, m_local / BLOCK_ROWS) of target m_local % BLOCK_ROWS.
// Inputs:
//   u_x_q        usampler2D, RGBA8UI piece of x_q (M x K uint8, four K values per texel).
//   u_w          isampler2D, RGBA8I piece of w_q transposed (N x K int8, four K values per
//                texel; padding past K is 0, so padded texels add nothing).
//   u_params     sampler2D, RGBA32F 1x1, (x_scale, x_zero_point, 0, 0).
//   u_acc_in     isampler2D[BLOCK_ROWS], RGBA32I accumulators of the previous segment, one per
//                block row; read only when u_has_acc is 1. They must never be textures this
//                pass renders into.
//   u_has_acc    int, 1 to add to the previous accumulators, 0 to start from 0.
//   u_tile_size  ivec2, tile width (columns n) and height (rows m). Rows and columns of a block
//                past the tile read the tile's last row or column; their outputs are unused.
//   u_x_row0     int, x_q piece row of the tile's first row (output row m).
//   u_w_row0     int, w piece row of the tile's first column (output column n).
//   u_t0, u_t1   int, texel column range [u_t0, u_t1) of this segment in both pieces.
// Outputs: o_acc[BLOCK_ROWS], RGBA32I accumulator texels as laid out above:
//   acc = acc_in + sum over k in the segment of (x_q[m, k] - x_zero_point) * w_q[k, n]
// All arithmetic is 32-bit integer; overflow wraps (GLSL ES 3.00 keeps the low 32 bits),
// as NumPy int32 does.
#ifndef BLOCK_ROWS
#define BLOCK_ROWS 4
#endif

precision highp float;
precision highp int;
precision highp sampler2D;
precision highp isampler2D;
precision highp usampler2D;

uniform highp usampler2D u_x_q;
uniform highp isampler2D u_w;
uniform sampler2D u_params;
uniform highp isampler2D u_acc_in[BLOCK_ROWS];
uniform int u_has_acc;
uniform ivec2 u_tile_size;
uniform int u_x_row0;
uniform int u_w_row0;
uniform int u_t0;
uniform int u_t1;

layout(location = 0) out ivec4 o_acc[BLOCK_ROWS];

#define DOT4(a, b) ((a).x * (b).x + (a).y * (b).y + (a).z * (b).z + (a).w * (b).w)

// APPLY(F) expands to F(0) F(1) ... F(BLOCK_ROWS - 1): the block rows, unrolled, so that every
// array index is a constant (GLSL ES 3.00 indexes sampler arrays with constants only).
#if BLOCK_ROWS == 1
#define APPLY(F) F(0)
#elif BLOCK_ROWS == 2
#define APPLY(F) F(0) F(1)
#elif BLOCK_ROWS == 4
#define APPLY(F) F(0) F(1) F(2) F(3)
#else
#define APPLY(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7)
#endif

#define INIT_ROW(ROW) \
    acc[ROW] = has_acc ? texelFetch(u_acc_in[ROW], texel, 0) : ivec4(0); \
    x_rows[ROW] = u_x_row0 + min(block0.y + ROW, last.y);
#define ROW_STEP(ROW) { \
    ivec4 x = ivec4(texelFetch(u_x_q, ivec2(t, x_rows[ROW]), 0)) - zero_point; \
    acc[ROW] += ivec4(DOT4(x, w0), DOT4(x, w1), DOT4(x, w2), DOT4(x, w3)); }
#define STORE_ROW(ROW) o_acc[ROW] = acc[ROW];

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    ivec2 block0 = texel * ivec2(4, BLOCK_ROWS);
    ivec2 last = u_tile_size - 1;
    ivec4 zero_point = ivec4(int(texelFetch(u_params, ivec2(0, 0), 0).y));
    bool has_acc = u_has_acc != 0;
    ivec4 acc[BLOCK_ROWS];
    int x_rows[BLOCK_ROWS];
    APPLY(INIT_ROW)
    int n0 = u_w_row0 + min(block0.x, last.x);
    int n1 = u_w_row0 + min(block0.x + 1, last.x);
    int n2 = u_w_row0 + min(block0.x + 2, last.x);
    int n3 = u_w_row0 + min(block0.x + 3, last.x);
    for (int t = u_t0; t < u_t1; ++t) {
        ivec4 w0 = texelFetch(u_w, ivec2(t, n0), 0);
        ivec4 w1 = texelFetch(u_w, ivec2(t, n1), 0);
        ivec4 w2 = texelFetch(u_w, ivec2(t, n2), 0);
        ivec4 w3 = texelFetch(u_w, ivec2(t, n3), 0);
        APPLY(ROW_STEP)
    }
    APPLY(STORE_ROW)
}
