#version 300 es
// Fullscreen triangle for every fragment pass.
// Inputs: none (no vertex buffer); the corners come from gl_VertexID 0, 1, 2.
// Output: clip-space positions (-1,-1), (3,-1), (-1,3), a triangle that covers the viewport,
// so each fragment pass runs once per texel of the viewport. Passes address their output
// texel with ivec2(gl_FragCoord.xy).
precision highp float;

void main() {
    vec2 corner = vec2(float((gl_VertexID & 1) << 2), float((gl_VertexID & 2) << 1));
    gl_Position = vec4(corner - 1.0, 0.0, 1.0);
}
