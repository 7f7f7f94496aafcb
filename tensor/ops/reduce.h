// reduce.h: reductions over one dim (sum, mean, max, argmax) and topk.
//
// With keepdim the reduced dim stays with size 1 (handy for broadcasting back); without it,
// the dim is removed, as in PyTorch. Indices come back as an IndexTensor (int64, like the
// LongTensor PyTorch returns), so they index directly: labels[top.indices.at({0, i})].
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
// Position of the first maximum along dim (as torch.argmax): x (..., n, ...) -> (..., ...).
IndexTensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

struct TopK {
    Tensor values;        // (..., k, ...) largest first
    IndexTensor indices;  // same shape, positions along dim (int64)
};
// The k largest values along dim, sorted largest first; ties keep the lower index first.
TopK topk(const Tensor& x, int64_t k, int64_t dim = -1);

}  // namespace vitlab
