// Exercise 05, the project's solution: attention in three library calls.
//
//   scores = q @ k^T * scale (1 / sqrt(d) unless given),  probs = softmax(scores, -1),
//   out = probs @ v
// Why divide by sqrt(d): a dot product of two d-long vectors of unit-variance numbers has
// variance d; without the scale the scores grow with d, the softmax saturates to one-hot rows
// and attention stops averaging. k.transpose(-2, -1) is a view; matmul reads it through strides.
#include <fmt/format.h>

#include <cmath>

#include "exercise.h"

namespace vitlab::exercises {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    std::optional<float> scale) {
    if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2 || q.size(-1) != k.size(-1) ||
        k.size(-2) != v.size(-2))
        throw ShapeError(
            fmt::format("scaled_dot_product_attention: q {}, k {}, v {} must be (..., N, d), "
                        "(..., M, d), (..., M, d_v)",
                        to_string(q.shape()), to_string(k.shape()), to_string(v.shape())));
    const float s = scale ? *scale : 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
    const Tensor scores = matmul(q, k.transpose(-2, -1)) * s;  // (..., N, M)
    const Tensor probs = softmax(scores, -1);                  // rows sum to 1
    return matmul(probs, v);                                   // (..., N, d_v)
}

}  // namespace vitlab::exercises
