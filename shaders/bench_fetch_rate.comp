#version 430
// Benchmark: texture fetch rate of compute passes.
// Defines: INTEGER (1: u_source is RGBA8I, the int8 weight format; 0: RGBA32F), LOCAL_SIZE
//          (workgroup side, LOCAL_SIZE x LOCAL_SIZE). Both have defaults.
// Inputs:  u_source, a W x H texture, W and H powers of two; u_source_mask = (W - 1, H - 1);
//          u_fetches int, texels each invocation reads; u_output_size, the
//          invocation grid.
// Output:  values[y * u_output_size.x + x] in the std430 buffer at binding 0: the sum of the
//          texels invocation (x, y) read, so the compiler cannot drop the fetches.
// Invocation (x, y) reads texels ((x * u_fetches + j) mod W, y mod H) for j < u_fetches with
// texelFetch. A (W / u_fetches) x H grid reads every texel once (streaming from memory); a
// larger grid over a small texture reads it again and again (from the caches).
#ifndef INTEGER
#define INTEGER 0
#endif
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 8
#endif

#if INTEGER
uniform isampler2D u_source;
#define VECTOR ivec4
#else
uniform sampler2D u_source;
#define VECTOR vec4
#endif

layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

layout(std430, binding = 0) buffer Result {
    float values[];
};

uniform int u_fetches;
uniform ivec2 u_output_size;
uniform ivec2 u_source_mask;

void main() {
    ivec2 id = ivec2(gl_GlobalInvocationID.xy);
    if (id.x >= u_output_size.x || id.y >= u_output_size.y) {
        return;
    }
    int x0 = id.x * u_fetches;
    VECTOR total = VECTOR(0);
    for (int j = 0; j < u_fetches; ++j) {
        total += texelFetch(u_source,
                            ivec2((x0 + j) & u_source_mask.x, id.y & u_source_mask.y), 0);
    }
    values[id.y * u_output_size.x + id.x] = float(total.x + total.y + total.z + total.w);
}
