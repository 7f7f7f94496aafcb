// Exercise 01, the project's solution: conv2d as the formula, one loop per index.
//
// Seven nested loops: batch n, output channel o, output row y, output column x, then the sum
// over input channel c and kernel row i and column j. It reads elements with at(), which goes
// through strides, so a non-contiguous input (a transposed view) works as it is. This is the
// "naive" version; tensor/ops/conv2d_blocked.cpp turns the same sum into one matrix product.
#include <fmt/format.h>

#include "exercise.h"

namespace vitlab::exercises {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding) {
    if (input.dim() != 4 || weight.dim() != 4 || input.size(1) != weight.size(1))
        throw ShapeError(fmt::format("conv2d: input {} does not match weight {} (C_in differs)",
                                     to_string(input.shape()), to_string(weight.shape())));
    const int64_t N = input.size(0), C_in = input.size(1), H = input.size(2), W = input.size(3);
    const int64_t C_out = weight.size(0), kH = weight.size(2), kW = weight.size(3);
    const int64_t H_out = (H + 2 * padding - kH) / stride + 1;
    const int64_t W_out = (W + 2 * padding - kW) / stride + 1;
    if (H_out < 1 || W_out < 1)
        throw ShapeError(fmt::format("conv2d: kernel {}x{} does not fit input {} with padding {}",
                                     kH, kW, to_string(input.shape()), padding));
    const bool has_bias = bias.numel() > 0;

    Tensor out = zeros({N, C_out, H_out, W_out});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < C_out; ++o)
            for (int64_t y = 0; y < H_out; ++y)
                for (int64_t x = 0; x < W_out; ++x) {
                    float acc = has_bias ? bias.at({o}) : 0.0f;
                    for (int64_t c = 0; c < C_in; ++c)
                        for (int64_t i = 0; i < kH; ++i)
                            for (int64_t j = 0; j < kW; ++j) {
                                // Where the kernel's (i, j) lands in the unpadded image.
                                const int64_t h = y * stride + i - padding;
                                const int64_t w = x * stride + j - padding;
                                if (h < 0 || h >= H || w < 0 || w >= W) continue;  // padding: 0
                                acc += input.at({n, c, h, w}) * weight.at({o, c, i, j});
                            }
                    out.at({n, o, y, x}) = acc;
                }
    return out;
}

}  // namespace vitlab::exercises
