#version 300 es
// Benchmark: ALU peak of fragment passes, as long dependent chains of multiply-adds.
// Defines: INTEGER (1: int32 multiply-adds, wrapping; 0: float); the default is 0.
// Inputs:  u_iterations int, loop trips; u_mul, u_add (ivec4 or vec4) operands of every step.
// Output:  o_value, one R32F texel per fragment: the sum of all chains (converted to float in
//          the integer variant), so the compiler cannot drop them.
// Work per fragment: u_iterations * CHAINS vec4 steps a = a * u_mul + u_add, that is
//          u_iterations * CHAINS * 4 multiply-adds (2 operations each). The CHAINS chains are
//          independent, so a core can overlap them; each chain is dependent step to step.
precision highp float;
precision highp int;

#ifndef INTEGER
#define INTEGER 0
#endif
#define CHAINS 8

#if INTEGER
#define SCALAR int
#define VECTOR ivec4
#else
#define SCALAR float
#define VECTOR vec4
#endif

uniform int u_iterations;
uniform VECTOR u_mul;
uniform VECTOR u_add;

out float o_value;

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    VECTOR seed = VECTOR(SCALAR(texel.x + 4096 * texel.y));
    VECTOR a0 = seed;
    VECTOR a1 = seed + u_add;
    VECTOR a2 = seed + SCALAR(2) * u_add;
    VECTOR a3 = seed + SCALAR(3) * u_add;
    VECTOR a4 = seed + SCALAR(4) * u_add;
    VECTOR a5 = seed + SCALAR(5) * u_add;
    VECTOR a6 = seed + SCALAR(6) * u_add;
    VECTOR a7 = seed + SCALAR(7) * u_add;
    for (int i = 0; i < u_iterations; ++i) {
        a0 = a0 * u_mul + u_add;
        a1 = a1 * u_mul + u_add;
        a2 = a2 * u_mul + u_add;
        a3 = a3 * u_mul + u_add;
        a4 = a4 * u_mul + u_add;
        a5 = a5 * u_mul + u_add;
        a6 = a6 * u_mul + u_add;
        a7 = a7 * u_mul + u_add;
    }
    VECTOR total = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    o_value = float(total.x + total.y + total.z + total.w);
}
