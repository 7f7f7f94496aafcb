// conv2d_internal.h: what the two conv2d kernels share, not part of the public API (conv2d.h).
//
// Both conv2d_naive.cpp and conv2d_blocked.cpp start from conv2d_output_shape (conv2d.cpp), so
// every mistake is reported with the same words whichever kernel runs.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace vitlab::detail {

// Checks the arguments of conv2d (see conv2d.h) and returns the output shape
// (N, C_out, H_out, W_out). Throws ShapeError / std::invalid_argument naming what is wrong.
Shape conv2d_output_shape(const Tensor& input, const Tensor& weight, const Tensor& bias,
                          int64_t stride, int64_t padding);

}  // namespace vitlab::detail
