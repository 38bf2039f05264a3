#version 300 es
// uint8 quantization of a float tensor, four consecutive values of a row packed per texel.
// Inputs:
//   u_x_lo, u_x_hi  sampler2D, R32F pieces of x holding columns [u_lo_col0, u_hi_col0) and
//                   [u_hi_col0, ...): a packed texel's four columns can straddle one piece edge.
//   u_lo_col0, u_hi_col0  int, first x column of each piece.
//   u_out_texel0    int, global texel column of the output piece's first texel.
//   u_cols          int, x's column count K; texel channels past it are written as 0.
//   u_params        sampler2D, RGBA32F 1x1, (y_scale, y_zero_point, 0, 0).
// x and x_q are cut into row pieces at the same rows, so a texel's row is the same in both.
// Output: o_q, RGBA8UI, channel i of texel (t, m) is x_q[m, 4 * t + i]:
//   x_q = clamp(roundEven(x / y_scale) + y_zero_point, 0, 255)   (DynamicQuantizeLinear)
// NOTE: GLSL ES 3.00 allows division 2.5 ULP of error, so on some GPUs a quotient within a few
// ULP of a tie (n + 0.5) can round one step off the ONNX reference; Mesa llvmpipe divides
// exactly.
precision highp float;
precision highp int;
precision highp sampler2D;

uniform sampler2D u_x_lo;
uniform sampler2D u_x_hi;
uniform int u_lo_col0;
uniform int u_hi_col0;
uniform int u_out_texel0;
uniform int u_cols;
uniform sampler2D u_params;

out uvec4 o_q;

uint quantize(float x, float y_scale, float y_zero_point) {
    return uint(clamp(roundEven(x / y_scale) + y_zero_point, 0.0, 255.0));
}

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int row = texel.y;
    int col0 = 4 * (u_out_texel0 + texel.x);
    vec4 params = texelFetch(u_params, ivec2(0, 0), 0);
    uvec4 q = uvec4(0u);
    for (int i = 0; i < 4; ++i) {
        int col = col0 + i;
        if (col >= u_cols) {
            break;
        }
        float x = col < u_hi_col0
            ? texelFetch(u_x_lo, ivec2(col - u_lo_col0, row), 0).r
            : texelFetch(u_x_hi, ivec2(col - u_hi_col0, row), 0).r;
        q[i] = quantize(x, params.x, params.y);
    }
    o_q = q;
}
