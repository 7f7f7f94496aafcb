// conv2d_backward.h: gradients of conv2d (conv2d.h), groups = 1, dilation = 1.
//
// The forward adds input[n][c][y*s + i - p][x*s + j - p] * weight[o][c][i][j] into
// out[n][o][y][x]; each such product sends dout[n][o][y][x] back to both factors:
//   dinput[n][c][y*s + i - p][x*s + j - p] += dout[n][o][y][x] * weight[o][c][i][j]
//   dweight[o][c][i][j]                    += dout[n][o][y][x] * input[n][c][y*s+i-p][x*s+j-p]
//   dbias[o]                                = sum_{n,y,x} dout[n][o][y][x]
// (taps that fall in the padding, or on rows/columns no window reaches, get nothing).
//
// conv2d_backward_naive is those three lines as loops. conv2d_backward_blocked handles the
// patch embedding (stride == kH == kW, padding 0: every pixel in at most one window) as
// matrix products, the mirror of the forward's im2col:
//   patches P (N * H_out * W_out, C * kH * kW)    the input cut into patches (a copy)
//   dout as D (N * H_out * W_out, C_out)
//   dweight = D^T @ P   -> (C_out, C, kH, kW)      dP = D @ weight.reshape(C_out, -1)
//   dinput  = dP put back where each patch came from
// Other strides and paddings fall back to the naive loops.
// need_dinput = false (PyTorch's output_mask[0]) skips dinput, left an empty Tensor(): the
// patch embedding's input is the images, which need no gradient.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

struct Conv2dGrads {
    Tensor dinput, dweight, dbias;  // dbias is an empty Tensor() when has_bias is false
};

Conv2dGrads conv2d_backward(const Tensor& dout, const Tensor& input, const Tensor& weight,
                            bool has_bias, int64_t stride = 1, int64_t padding = 0,
                            Kernel kernel = Kernel::Default, bool need_dinput = true);
Conv2dGrads conv2d_backward_naive(const Tensor& dout, const Tensor& input, const Tensor& weight,
                                  bool has_bias, int64_t stride = 1, int64_t padding = 0);
Conv2dGrads conv2d_backward_blocked(const Tensor& dout, const Tensor& input, const Tensor& weight,
                                    bool has_bias, int64_t stride = 1, int64_t padding = 0,
                                    bool need_dinput = true);

}  // namespace vitlab
