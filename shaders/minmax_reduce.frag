#version 300 es
// Min/max reduction, one level: each output texel covers a REDUCE_FACTOR x REDUCE_FACTOR window.
// Inputs:
//   u_input        sampler2D. FIRST_LEVEL == 1: the R32F tensor piece (value in .r).
//                  FIRST_LEVEL == 0: an RG32F result of the previous level (min in .r, max in .g).
//   u_input_size   ivec2, input width and height in texels; the window is clipped to it.
//   u_out_origin   ivec2, output texel where this input's results start (the viewport origin).
// Output: o_minmax, RG32F, (min, max) over the window:
//   o = (min over window of v.r, max over window of v.g), with v.g = v.r on the first level.
// Layout: output texel p reads input texels [(p - u_out_origin) * REDUCE_FACTOR, + REDUCE_FACTOR)
// on both axes, addressed with texelFetch (no filtering).
precision highp float;
precision highp int;
precision highp sampler2D;

uniform sampler2D u_input;
uniform ivec2 u_input_size;
uniform ivec2 u_out_origin;

out vec2 o_minmax;

void main() {
    ivec2 base = (ivec2(gl_FragCoord.xy) - u_out_origin) * REDUCE_FACTOR;
    ivec2 end = min(base + REDUCE_FACTOR, u_input_size);
    vec2 first = texelFetch(u_input, base, 0).rg;
#if FIRST_LEVEL
    first.g = first.r;
#endif
    vec2 result = first;
    for (int y = base.y; y < end.y; ++y) {
        for (int x = base.x; x < end.x; ++x) {
            vec2 value = texelFetch(u_input, ivec2(x, y), 0).rg;
#if FIRST_LEVEL
            value.g = value.r;
#endif
            result = vec2(min(result.r, value.r), max(result.g, value.g));
        }
    }
    o_minmax = result;
}
