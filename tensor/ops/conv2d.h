// conv2d.h: 2-d convolution on NCHW, as torch.nn.functional.conv2d (groups = 1, dilation = 1).
//
//   input (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out) or an empty tensor
//   out (N, C_out, H_out, W_out),  H_out = (H + 2*padding - kH) / stride + 1  (same for W)
//   out[n][o][y][x] = bias[o] + sum_{c,i,j} input[n][c][y*stride + i - padding][x*stride + j - padding]
//                                          * weight[o][c][i][j]      (outside the image reads 0)
//
// conv2d_naive is that formula as loops. conv2d_blocked turns the convolution into one matrix
// product (im2col; with stride == kernel and no padding, the patch embedding, simply cutting
// the image into patches) and runs matmul_blocked. Both agree within 1e-4 relative.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride = 1,
              int64_t padding = 0, Kernel kernel = Kernel::Default);
Tensor conv2d_naive(const Tensor& input, const Tensor& weight, const Tensor& bias,
                    int64_t stride = 1, int64_t padding = 0);
Tensor conv2d_blocked(const Tensor& input, const Tensor& weight, const Tensor& bias,
                      int64_t stride = 1, int64_t padding = 0);

}  // namespace vitlab
