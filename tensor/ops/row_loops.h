// row_loops.h: the loop shape shared by the naive backward kernels, "one row at a time".
//
// An op that works along one dim (softmax, log_softmax) sees a tensor as rows along that dim:
//   x (B, N, C), dim = 1  ->  x.permute(0, 2, 1) (B, C, N), packed  ->  B*C rows of N numbers
// to_rows() makes that packed copy (a view when dim is already last and x is contiguous);
// from_rows() puts a result computed in that layout back into x's dim order, packed.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace vitlab::detail {

// The permutation that moves dim d to the end, keeping the others in order.
inline std::vector<int64_t> dim_last(int64_t rank, int64_t d) {
    std::vector<int64_t> order;
    for (int64_t i = 0; i < rank; ++i)
        if (i != d) order.push_back(i);
    order.push_back(d);
    return order;
}

inline Tensor to_rows(const Tensor& x, int64_t d) {
    return x.permute(dim_last(x.dim(), d)).contiguous();
}

// rows has x's dims in dim_last order; returns them in x's order, packed.
inline Tensor from_rows(const Tensor& rows, int64_t d) {
    const std::vector<int64_t> order = dim_last(rows.dim(), d);
    std::vector<int64_t> inverse(order.size());
    for (size_t i = 0; i < order.size(); ++i)
        inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
    return rows.permute(inverse).contiguous();
}

}  // namespace vitlab::detail
