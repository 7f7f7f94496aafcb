// Exercise 01: naive conv2d (卷积层). Read README.md, write the body below, then run
//   make exercise N=1
#include "exercise.h"

namespace vitlab::exercises {

// input (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out) or empty (numel() == 0)
// -> out (N, C_out, H_out, W_out) with
//   H_out = (H + 2*padding - kH) / stride + 1        W_out = (W + 2*padding - kW) / stride + 1
//   out[n][o][y][x] = bias[o] + sum over c < C_in, i < kH, j < kW of
//       input[n][c][y*stride + i - padding][x*stride + j - padding] * weight[o][c][i][j]
// A position outside the image (because of padding) reads 0.
// Throw ShapeError (message starting "conv2d:") if the input has the wrong number of channels.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding) {
    // TODO(student): compute H_out and W_out, make a zero tensor of the output shape, and
    // fill it with the loops of the formula above (use x.at({n, c, h, w}) to read elements).
    return Tensor();
}

}  // namespace vitlab::exercises
