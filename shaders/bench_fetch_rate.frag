#version 300 es
// Benchmark: texture fetch rate of fragment passes.
// Defines: INTEGER (1: u_source is RGBA8I, the int8 weight format; 0: RGBA32F); default 0.
// Inputs:  u_source, a W x H texture, W and H powers of two; u_source_mask = (W - 1, H - 1);
//          u_fetches int, texels each fragment reads.
// Output:  o_value, one R32F texel per fragment: the sum of the texels it read, so the
//          compiler cannot drop the fetches.
// Fragment (x, y) reads texels ((x * u_fetches + j) mod W, y mod H) for j < u_fetches with
// texelFetch. A (W / u_fetches) x H viewport reads every texel once (streaming from memory);
// a larger viewport over a small texture reads it again and again (from the caches).
precision highp float;
precision highp int;

#ifndef INTEGER
#define INTEGER 0
#endif

#if INTEGER
precision highp isampler2D;
uniform isampler2D u_source;
#define VECTOR ivec4
#else
precision highp sampler2D;
uniform sampler2D u_source;
#define VECTOR vec4
#endif

uniform int u_fetches;
uniform ivec2 u_source_mask;

out float o_value;

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int x0 = texel.x * u_fetches;
    VECTOR total = VECTOR(0);
    for (int j = 0; j < u_fetches; ++j) {
        total += texelFetch(u_source,
                            ivec2((x0 + j) & u_source_mask.x, texel.y & u_source_mask.y), 0);
    }
    o_value = float(total.x + total.y + total.z + total.w);
}
