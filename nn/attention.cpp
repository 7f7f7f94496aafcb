// attention.cpp: multi-head self-attention; the steps follow the formula in attention.h. The
// attention itself is the operator scaled_dot_product_attention (tensor/ops/), which records
// one node for backward while recording.
#include "nn/attention.h"

#include <cmath>

#include "tensor/ops.h"

namespace vitlab::nn {

static int64_t checked_head_dim(int64_t dim, int64_t num_heads) {
    if (dim <= 0 || num_heads <= 0 || dim % num_heads != 0)
        throw std::invalid_argument(fmt::format(
            "Attention: dim must be a positive multiple of num_heads, got dim {} and num_heads {}",
            dim, num_heads));
    return dim / num_heads;
}

Attention::Attention(int64_t dim, int64_t num_heads, bool qkv_bias, Generator& gen)
    : dim(dim),
      num_heads(num_heads),
      head_dim(checked_head_dim(dim, num_heads)),
      scale(1.0f / std::sqrt(float(head_dim))),
      qkv(dim, 3 * dim, qkv_bias, gen),
      proj(dim, dim, true, gen) {
    register_module("qkv", &qkv);
    register_module("proj", &proj);
}

Tensor Attention::forward(const Tensor& x, Tensor* attn_probs) const {
    if (x.dim() != 3 || x.size(2) != dim)
        throw ShapeError(
            fmt::format("Attention(dim {}): expected input of shape (B, N, {}), got {}", dim, dim,
                        to_string(x.shape())));
    const int64_t B = x.size(0), N = x.size(1);
    // Without probabilities to hand out, the operator on the packed qkv: the same numbers, and
    // while training one node whose backward writes d(qkv) at once.
    if (!attn_probs) return proj(multi_head_attention_packed(qkv(x), num_heads, scale));

    // (B, N, 3C) -> (B, N, 3, H, D) -> (3, B, H, N, D): views, nothing is copied.
    Tensor qkv_heads = qkv(x).reshape({B, N, 3, num_heads, head_dim}).permute({2, 0, 3, 1, 4});
    Tensor q = qkv_heads.select(0, 0), k = qkv_heads.select(0, 1), v = qkv_heads.select(0, 2);

    Tensor out = scaled_dot_product_attention(q, k, v, scale, attn_probs);  // (B, H, N, D)
    return proj(out.transpose(1, 2).reshape({B, N, dim}));  // heads merged: (B, N, C)
}

}  // namespace vitlab::nn
