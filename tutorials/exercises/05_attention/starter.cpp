// Exercise 05: scaled dot-product attention, the core of 多头注意力机制 (multi-head attention).
// Read README.md, write the body below, then run
//   make exercise N=5
#include "exercise.h"

namespace vitlab::exercises {

// q (..., N, d) queries, k (..., M, d) keys, v (..., M, d_v) values -> out (..., N, d_v):
//   scores = q @ k^T * scale            (..., N, M)   how well query i matches key j
//                                                     scale: *scale if given, else 1 / sqrt(d)
//   probs  = softmax(scores, dim = -1)  (..., N, M)   each row sums to 1
//   out    = probs @ v                  (..., N, d_v) a weighted average of the values
// In a ViT-Base at 384 pixels, per image: q, k, v are (1, 12, 577, 64), scores (1, 12, 577, 577).
// "..." are leading dims (batch, heads) shared by q, k and v.
// Throw ShapeError if q and k have different d, or k and v a different M.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    std::optional<float> scale) {
    // TODO(student): k.transpose(-2, -1) is k^T as a free view; matmul, scale, softmax, matmul.
    return Tensor();
}

}  // namespace vitlab::exercises
