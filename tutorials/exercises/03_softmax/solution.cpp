// Exercise 03, the project's solution: softmax over rows, after moving dim to the end.
//
// Moving the softmax dim last (transpose is free, a view; clone() packs it into a copy of our
// own, which contiguous() would not do for an already packed input) turns every case into the
// same simple one: rows of n numbers, one after another in memory. Each row takes
// three passes: the max, exp(x - max) with its sum, and the division. Moving the dim back
// makes the result the input's shape again.
#include <cmath>

#include "exercise.h"

namespace vitlab::exercises {

Tensor softmax(const Tensor& x, int64_t dim) {
    if (x.dim() == 0) {
        wrap_dim(dim, 1, "softmax");  // a 0-d tensor accepts dim 0 or -1, as in PyTorch
        return full({}, 1.0f);
    }
    const int64_t d = wrap_dim(dim, x.dim(), "softmax");
    // rows (..., n): the softmax dim is now the last one, and contiguous.
    Tensor rows = x.transpose(d, -1).clone();  // clone: a packed copy we may overwrite
    const int64_t n = rows.size(-1);
    if (rows.numel() == 0) return x.clone();

    float* p = rows.data();
    for (int64_t r = 0; r < rows.numel() / n; ++r, p += n) {
        float m = -INFINITY;
        for (int64_t i = 0; i < n; ++i) m = std::max(m, p[i]);
        float sum = 0.0f;
        for (int64_t i = 0; i < n; ++i) {
            p[i] = std::exp(p[i] - m);  // <= 1: the largest term is exp(0)
            sum += p[i];
        }
        for (int64_t i = 0; i < n; ++i) p[i] /= sum;
    }
    // Transposing back gives x's shape; contiguous() gives the usual row-major layout.
    return rows.transpose(d, -1).contiguous();
}

}  // namespace vitlab::exercises
