// Exercise 07, the project's solution: the softmax backward over rows, after moving dim last.
//
// Like exercise 03: transpose dim to the end (a free view) and clone() (a packed copy we may
// overwrite, also for an input that is already packed, where contiguous() would hand back the
// caller's own storage). Then each row of n numbers takes two passes: the dot product
// s = sum_j dy_j y_j (in double: a row of 577 terms keeps its digits), then dx_i = y_i (dy_i - s).
#include <fmt/format.h>

#include "exercise.h"

namespace vitlab::exercises {

Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
    if (dy.shape() != y.shape())
        throw ShapeError(fmt::format("softmax_backward: dy {} and y {} must have the same shape",
                                     to_string(dy.shape()), to_string(y.shape())));
    if (y.dim() == 0) {
        wrap_dim(dim, 1, "softmax_backward");  // one element: y = 1, and dx = 1 * (dy - dy) = 0
        return zeros({});
    }
    const int64_t d = wrap_dim(dim, y.dim(), "softmax_backward");
    Tensor dx = dy.transpose(d, -1).clone();      // (..., n), becomes dx in place
    const Tensor p = y.transpose(d, -1).clone();  // (..., n), the same layout
    const int64_t n = dx.size(-1);
    if (dx.numel() == 0) return dy.clone();

    float* g = dx.data();
    const float* q = p.data();
    for (int64_t r = 0; r < dx.numel() / n; ++r, g += n, q += n) {
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * q[i];
        for (int64_t i = 0; i < n; ++i) g[i] = static_cast<float>(q[i] * (g[i] - s));
    }
    return dx.transpose(d, -1).contiguous();
}

}  // namespace vitlab::exercises
