// cat_backward.h: the gradient of cat (cat.h), and of the views (tensor.h).
//
// cat: each input filled one slab of the output along dim, so its gradient is that slab:
//   y = cat({a (2, 1, 8), b (2, 17, 8)}, 1)  ->  da = dy.narrow(1, 0, 1), db = dy.narrow(1, 1, 17)
//
// The views copy nothing forward, and most backwards are the reverse view (no copy either):
//   reshape / view / flatten / squeeze / unsqueeze:  dx = dy.reshape(x's shape)
//   transpose(d0, d1):                               dx = dy.transpose(d0, d1)
//   permute(order):                                  dx = dy.permute(inverse of order)
// The ones that dropped elements scatter dy into zeros of x's shape:
//   select(dim, i):               dx = 0, dx.select(dim, i) = dy
//   slice / narrow(dim, ...):     dx = 0, dx.slice(dim, start, end, step) = dy
// and expand, which read one element many times, sums (sum_to, elementwise_backward.h):
//   expand(shape):                dx = sum_to(dy, x's shape)
// The results may be views of dy: read them, do not write into them.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace vitlab {

// One gradient per input, in order, each with its input's shape. A legacy-empty input
// (shape (0), skipped by cat) gets an empty gradient.
std::vector<Tensor> cat_backward(const Tensor& dy, const std::vector<Shape>& input_shapes,
                                 int64_t dim);

Tensor reshape_backward(const Tensor& dy, const Shape& x_shape);
Tensor transpose_backward(const Tensor& dy, int64_t dim0, int64_t dim1);
Tensor permute_backward(const Tensor& dy, const std::vector<int64_t>& dims);
Tensor select_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, int64_t index);
Tensor slice_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, int64_t start,
                      int64_t end, int64_t step = 1);
Tensor expand_backward(const Tensor& dy, const Shape& x_shape);

}  // namespace vitlab
