#version 430
// Benchmark: ALU peak of compute passes, as long dependent chains of multiply-adds.
// Defines: INTEGER (1: int32 multiply-adds, wrapping; 0: float), LOCAL_SIZE (invocations per
//          workgroup along x). Both have defaults, so the file compiles without defines.
// Inputs:  u_iterations int, loop trips; u_mul, u_add (ivec4 or vec4) operands of every step.
// Output:  values[i] in the std430 buffer at binding 0, one per invocation i: the sum of all
//          chains, so the compiler cannot drop them.
// Work per invocation: u_iterations * CHAINS vec4 steps a = a * u_mul + u_add, that is
//          u_iterations * CHAINS * 4 multiply-adds (2 operations each). The CHAINS chains are
//          independent, so a core can overlap them; each chain is dependent step to step.
#ifndef INTEGER
#define INTEGER 0
#endif
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 64
#endif
#define CHAINS 8

#if INTEGER
#define SCALAR int
#define VECTOR ivec4
#else
#define SCALAR float
#define VECTOR vec4
#endif

layout(local_size_x = LOCAL_SIZE) in;

layout(std430, binding = 0) buffer Result {
    SCALAR values[];
};

uniform int u_iterations;
uniform VECTOR u_mul;
uniform VECTOR u_add;

void main() {
    VECTOR seed = VECTOR(SCALAR(gl_GlobalInvocationID.x));
    VECTOR a[CHAINS];
    for (int c = 0; c < CHAINS; ++c) {
        a[c] = seed + SCALAR(c) * u_add;
    }
    for (int i = 0; i < u_iterations; ++i) {
        a[0] = a[0] * u_mul + u_add;
        a[1] = a[1] * u_mul + u_add;
        a[2] = a[2] * u_mul + u_add;
        a[3] = a[3] * u_mul + u_add;
        a[4] = a[4] * u_mul + u_add;
        a[5] = a[5] * u_mul + u_add;
        a[6] = a[6] * u_mul + u_add;
        a[7] = a[7] * u_mul + u_add;
    }
    VECTOR total = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
    values[gl_GlobalInvocationID.x] = total.x + total.y + total.z + total.w;
}
