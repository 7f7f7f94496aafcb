// reduce.h: reductions over one dim (sum, mean, max, argmax) and topk.
//
// With keepdim the reduced dim stays with size 1 (handy for broadcasting back); without it,
// the dim is removed, as in PyTorch. Indices are returned in float tensors (this library is
// float32 only); they are exact integers up to 2^24.
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
// Index of the first maximum along dim (as torch.argmax).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

struct TopK {
    Tensor values;   // (..., k, ...) largest first
    Tensor indices;  // same shape, positions along dim, as floats
};
// The k largest values along dim, sorted largest first; ties keep the lower index first.
TopK topk(const Tensor& x, int64_t k, int64_t dim = -1);

}  // namespace vitlab
