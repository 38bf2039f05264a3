#version 300 es
// 2-D max or average pooling over (N, C, H, W); a 1-D pool is H = 1, a global pool has the
// kernel equal to the input's spatial size.
// Defines: MODE 0 MaxPool, 1 AveragePool.
// Inputs:
//   u_x            sampler2D, R32F flat-layout X, element i at texel (i % w, i / w).
//   u_x_width      int, X's texture width.
//   u_in_dims      ivec4 (N, C, H, W); u_out_dims ivec4 (N, C, OH, OW).
//   u_kernel, u_stride, u_dilation, u_pad_begin, u_pad_end  ivec2, (height, width) pairs.
//   u_count_include_pad  int, AveragePool's count_include_pad.
//   u_out_width, u_out_size  int, output texture width and element count.
// Output: o_value, R32F flat-layout Y (N, C, OH, OW). With ih = oh * stride - pad_begin +
// kh * dilation (likewise iw) over the window taps inside X:
//   MaxPool: y = max X[n, c, ih, iw]   (a window with no tap inside X gives -FLT_MAX)
//   AveragePool: y = sum X[n, c, ih, iw] / count, count = taps inside X, or with
//   count_include_pad taps inside the padded input [-pad_begin, H + pad_end).
precision highp float;
precision highp int;
precision highp sampler2D;

#ifndef MODE
#define MODE 0
#endif

uniform sampler2D u_x;
uniform int u_x_width;
uniform ivec4 u_in_dims;
uniform ivec4 u_out_dims;
uniform ivec2 u_kernel;
uniform ivec2 u_stride;
uniform ivec2 u_dilation;
uniform ivec2 u_pad_begin;
uniform ivec2 u_pad_end;
uniform int u_count_include_pad;
uniform int u_out_width;
uniform int u_out_size;

out float o_value;

float fetch(sampler2D tensor, int width, int index) {
    return texelFetch(tensor, ivec2(index % width, index / width), 0).r;
}

void main() {
    ivec2 texel = ivec2(gl_FragCoord.xy);
    int out_index = texel.y * u_out_width + texel.x;
    if (out_index >= u_out_size) {
        o_value = 0.0;
        return;
    }
    int ow = out_index % u_out_dims.w;
    int oh = (out_index / u_out_dims.w) % u_out_dims.z;
    int plane = out_index / (u_out_dims.w * u_out_dims.z);
    int ih0 = oh * u_stride.x - u_pad_begin.x;
    int iw0 = ow * u_stride.y - u_pad_begin.y;
#if MODE == 0
    float result = -3.4028234e38;
#else
    float result = 0.0;
#endif
    int count = 0;
    int padded_count = 0;
    for (int kh = 0; kh < u_kernel.x; ++kh) {
        int ih = ih0 + kh * u_dilation.x;
        bool row_in_pad = ih >= -u_pad_begin.x && ih < u_in_dims.z + u_pad_end.x;
        for (int kw = 0; kw < u_kernel.y; ++kw) {
            int iw = iw0 + kw * u_dilation.y;
            if (row_in_pad && iw >= -u_pad_begin.y && iw < u_in_dims.w + u_pad_end.y) {
                padded_count += 1;
            }
            if (ih < 0 || ih >= u_in_dims.z || iw < 0 || iw >= u_in_dims.w) {
                continue;
            }
            float value = fetch(u_x, u_x_width, (plane * u_in_dims.z + ih) * u_in_dims.w + iw);
#if MODE == 0
            // A NaN in the window makes the output NaN, as in NumPy.
            result = isnan(result) || isnan(value) ? result + value : max(result, value);
#else
            result += value;
#endif
            count += 1;
        }
    }
#if MODE == 1
    int divisor = u_count_include_pad != 0 ? padded_count : count;
    result = result / float(max(divisor, 1));
#endif
    o_value = result;
}
