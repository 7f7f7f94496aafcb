// softmax.h: softmax(x)_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x)) along one dim.
//
// Subtracting the max first changes nothing mathematically but keeps exp() from overflowing:
// softmax([1000, 1000]) is [0.5, 0.5], not NaN. A row of all -inf gives NaN, as in PyTorch.
// softmax_naive walks the dim through strides; softmax_blocked works on contiguous rows with
// SIMD and threads. Both agree within 1e-6 absolute. softmax_(x, dim) is softmax_blocked
// written over x itself (x must not be an expanded view): attention uses it on its scores.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor softmax(const Tensor& x, int64_t dim, Kernel kernel = Kernel::Default);
Tensor softmax_naive(const Tensor& x, int64_t dim);
Tensor softmax_blocked(const Tensor& x, int64_t dim);
Tensor& softmax_(Tensor& x, int64_t dim);

}  // namespace vitlab
