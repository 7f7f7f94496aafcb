// conv2d_naive.cpp: convolution as the seven nested loops of its definition (see conv2d.h).
//
//   out[n][o][y][x] = bias[o] + sum_{c,i,j} input[n][c][y*stride + i - padding]
//                                                    [x*stride + j - padding] * weight[o][c][i][j]
//
// Every element is found through its strides, so transposed or sliced inputs work as they are.
// Padding is not materialised: a tap that falls outside the image reads 0 and is skipped.
// This is the reference the fast version (conv2d_blocked.cpp) is tested against.
#include "tensor/ops/conv2d.h"
#include "tensor/ops/conv2d_internal.h"

namespace vitlab {

Tensor conv2d_naive(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride,
                    int64_t padding) {
    const Shape out_shape = detail::conv2d_output_shape(input, weight, bias, stride, padding);
    const int64_t N = out_shape[0], C_out = out_shape[1], H_out = out_shape[2],
                  W_out = out_shape[3];
    const int64_t C_in = input.size(1), H = input.size(2), W = input.size(3);
    const int64_t kH = weight.size(2), kW = weight.size(3);
    const bool has_bias = bias.numel() != 0;

    const float* in = input.data();
    const float* w = weight.data();
    const float* b = bias.data();
    const Shape& is = input.strides();
    const Shape& ws = weight.strides();

    Tensor out(out_shape);  // contiguous
    float* o = out.data();
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oc = 0; oc < C_out; ++oc)
            for (int64_t y = 0; y < H_out; ++y)
                for (int64_t x = 0; x < W_out; ++x) {
                    float acc = has_bias ? b[oc * bias.stride(0)] : 0.0f;
                    for (int64_t c = 0; c < C_in; ++c)
                        for (int64_t i = 0; i < kH; ++i)
                            for (int64_t j = 0; j < kW; ++j) {
                                const int64_t iy = y * stride + i - padding;
                                const int64_t ix = x * stride + j - padding;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;  // padding
                                acc += in[n * is[0] + c * is[1] + iy * is[2] + ix * is[3]] *
                                       w[oc * ws[0] + c * ws[1] + i * ws[2] + j * ws[3]];
                            }
                    *o++ = acc;  // out is contiguous and visited in row-major order
                }
    return out;
}

}  // namespace vitlab
