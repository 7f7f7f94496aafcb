// exercise.h: the function of exercise 01, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// 2-d convolution (卷积), as torch.nn.functional.conv2d with groups = 1 and dilation = 1.
//   input (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out) or an empty tensor
//   -> (N, C_out, H_out, W_out)
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding);

}  // namespace vitlab::exercises
