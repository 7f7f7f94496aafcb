// reduce_backward.h: gradients of sum and mean over one dim (reduce.h).
//
//   y = sum(x, dim):   dx[..., i, ...] = dy[...]          every x along dim fed y once
//   y = mean(x, dim):  dx[..., i, ...] = dy[...] / n      n = x.size(dim)
// dy has y's shape: without keepdim the dim is put back with size 1 first, then dy is
// broadcast (expand) along it. The result is a new contiguous tensor of x's shape.
// Read matmul_backward.h next.
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

Tensor sum_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, bool keepdim = false);
Tensor mean_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, bool keepdim = false);

}  // namespace vitlab
