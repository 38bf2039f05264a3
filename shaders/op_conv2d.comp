#version 430
// 2-D convolution as a compute pass: the same indexing and formula as op_conv2d.frag, one
// invocation per output texel.
// Defines: LOCAL_SIZE, workgroup side; QUANTIZED, HAS_BIAS, ACTIVATION, WRITE_ACCUMULATOR
//   and PLANES as in op_conv2d.frag.
// Inputs: as in op_conv2d.frag (u_x or u_x_q and u_params, u_w, u_w_scale, u_bias, widths,
//   u_in_dims, u_out_dims, u_kernel, u_stride, u_dilation, u_pad_begin, u_group_channels,
//   u_act_params, u_out_width, u_out_size).
// Outputs: u_y, image2D r32f at binding 0, the flat-layout Y; u_acc_out, iimage2D r32i at
//   binding 1 (WRITE_ACCUMULATOR), the int32 accumulators. Texels past u_out_size get 0.
// Formula: see op_conv2d.frag.
layout(local_size_x = LOCAL_SIZE, local_size_y = LOCAL_SIZE) in;

#ifndef QUANTIZED
#define QUANTIZED 0
#endif
#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif
#ifndef ACTIVATION
#define ACTIVATION 0
#endif
#ifndef WRITE_ACCUMULATOR
#define WRITE_ACCUMULATOR 0
#endif
#ifndef PLANES
#define PLANES 0
#endif

#if QUANTIZED
uniform usampler2D u_x_q;
uniform sampler2D u_params;
uniform isampler2D u_w;
uniform sampler2D u_w_scale;
#else
uniform sampler2D u_x;
uniform sampler2D u_w;
#endif
uniform sampler2D u_bias;
uniform int u_x_width;
uniform int u_w_width;
uniform int u_bias_width;
uniform ivec4 u_in_dims;
uniform ivec4 u_out_dims;
uniform ivec2 u_kernel;
uniform ivec2 u_stride;
uniform ivec2 u_dilation;
uniform ivec2 u_pad_begin;
uniform ivec2 u_group_channels;
uniform vec2 u_act_params;
uniform int u_out_width;
uniform int u_out_size;

layout(r32f, binding = 0) uniform writeonly image2D u_y;
#if WRITE_ACCUMULATOR
layout(r32i, binding = 1) uniform writeonly iimage2D u_acc_out;
#endif

// Texel of flat index i in a texture of the given width, without integer division (which
// CPU rasterizers such as llvmpipe run one lane at a time): a float estimate of the row, then
// one correction step. Exact for indices below 2**24.
ivec2 texel_of(int index, int width, float inv_width) {
    int row = int(float(index) * inv_width);
    int col = index - row * width;
    if (col < 0) {
        row -= 1;
        col += width;
    } else if (col >= width) {
        row += 1;
        col -= width;
    }
    return ivec2(col, row);
}

void main() {
    ivec2 texel = ivec2(gl_GlobalInvocationID.xy);
    if (any(greaterThanEqual(texel, imageSize(u_y)))) {
        return;
    }
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        imageStore(u_y, texel, vec4(0.0));
#if WRITE_ACCUMULATOR
        imageStore(u_acc_out, texel, ivec4(0));
#endif
        return;
    }
    int ow = out_index % u_out_dims.w;
    int oh = (out_index / u_out_dims.w) % u_out_dims.z;
    int m = (out_index / (u_out_dims.w * u_out_dims.z)) % u_out_dims.y;
    int n = out_index / (u_out_dims.w * u_out_dims.z * u_out_dims.y);
    int c0 = (m / u_group_channels.y) * u_group_channels.x;
    int ih0 = oh * u_stride.x - u_pad_begin.x;
    float x_inv_width = 1.0 / float(u_x_width);
    float w_inv_width = 1.0 / float(u_w_width);
    int iw0 = ow * u_stride.y - u_pad_begin.y;
#if QUANTIZED
    int zero_point = int(texelFetch(u_params, ivec2(0, 0), 0).y);
    int acc = 0;
#else
    float acc = 0.0;
#endif
#if PLANES
    for (int c = 0; c < u_group_channels.x; ++c) {
        int x_row = n * u_in_dims.y + c0 + c;
        int w_col0 = c * u_kernel.y;
        for (int kh = 0; kh < u_kernel.x; ++kh) {
            int ih = ih0 + kh * u_dilation.x;
            if (ih < 0 || ih >= u_in_dims.z) {
                continue;
            }
            int x_col0 = ih * u_in_dims.w;
            int w_row = m * u_kernel.x + kh;
            for (int kw = 0; kw < u_kernel.y; ++kw) {
                int iw = iw0 + kw * u_dilation.y;
                if (iw < 0 || iw >= u_in_dims.w) {
                    continue;
                }
                int x_col = x_col0 + iw;
#if QUANTIZED
                uvec4 quad = texelFetch(u_x_q, ivec2(x_col >> 2, x_row), 0);
                int w = texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0).r;
                acc += (int(quad[x_col & 3]) - zero_point) * w;
#else
                acc += texelFetch(u_x, ivec2(x_col, x_row), 0).r
                    * texelFetch(u_w, ivec2(w_col0 + kw, w_row), 0).r;
#endif
            }
        }
    }
#else
    for (int c = 0; c < u_group_channels.x; ++c) {
        int x_plane = (n * u_in_dims.y + c0 + c) * u_in_dims.z;
        int w_plane = (m * u_group_channels.x + c) * u_kernel.x;
        for (int kh = 0; kh < u_kernel.x; ++kh) {
            int ih = ih0 + kh * u_dilation.x;
            if (ih < 0 || ih >= u_in_dims.z) {
                continue;
            }
            int x_row = (x_plane + ih) * u_in_dims.w;
            int w_row = (w_plane + kh) * u_kernel.y;
            for (int kw = 0; kw < u_kernel.y; ++kw) {
                int iw = iw0 + kw * u_dilation.y;
                if (iw < 0 || iw >= u_in_dims.w) {
                    continue;
                }
                int x_index = x_row + iw;
                int w_index = w_row + kw;
#if QUANTIZED
                ivec2 x_texel = texel_of(x_index, u_x_width, x_inv_width);
                uvec4 quad = texelFetch(u_x_q, ivec2(x_texel.x >> 2, x_texel.y), 0);
                int w = texelFetch(u_w, texel_of(w_index, u_w_width, w_inv_width), 0).r;
                acc += (int(quad[x_texel.x & 3]) - zero_point) * w;
#else
                acc += texelFetch(u_x, texel_of(x_index, u_x_width, x_inv_width), 0).r
                    * texelFetch(u_w, texel_of(w_index, u_w_width, w_inv_width), 0).r;
#endif
            }
        }
    }
#endif
#if QUANTIZED
    float x_scale = texelFetch(u_params, ivec2(0, 0), 0).x;
    float y = float(acc) * x_scale * texelFetch(u_w_scale, ivec2(m % u_bias_width, m / u_bias_width), 0).r;
#else
    float y = acc;
#endif
#if HAS_BIAS
    y += texelFetch(u_bias, ivec2(m % u_bias_width, m / u_bias_width), 0).r;
#endif
#if ACTIVATION == 1
    // GLSL leaves max and clamp of a NaN to the driver, so NaN is passed on explicitly.
    y = isnan(y) ? y : max(y, 0.0);
#elif ACTIVATION == 2
    y = isnan(y) ? y : clamp(y, u_act_params.x, u_act_params.y);
#elif ACTIVATION == 3
    y = 1.0 / (1.0 + exp(-y));
#elif ACTIVATION == 4
    y = y >= 0.0 ? y : u_act_params.x * y;
#endif
    imageStore(u_y, texel, vec4(y, 0.0, 0.0, 0.0));
#if WRITE_ACCUMULATOR
    imageStore(u_acc_out, texel, ivec4(acc, 0, 0, 0));
#endif
}
