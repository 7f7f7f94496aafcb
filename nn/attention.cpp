// attention.cpp: multi-head self-attention; the steps follow the formula in attention.h.
#include "nn/attention.h"

#include <cmath>

#include "tensor/ops.h"

namespace vitlab::nn {

static int64_t checked_head_dim(int64_t dim, int64_t num_heads) {
    if (dim <= 0 || num_heads <= 0 || dim % num_heads != 0)
        throw std::invalid_argument(
            "Attention: dim must be a positive multiple of num_heads, "
            "got dim " +
            std::to_string(dim) + " and num_heads " + std::to_string(num_heads));
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
        throw ShapeError("Attention(dim " + std::to_string(dim) +
                         "): expected input of shape (B, N, " + std::to_string(dim) + "), got " +
                         to_string(x.shape()));
    const int64_t B = x.size(0), N = x.size(1);

    // (B, N, 3C) -> (B, N, 3, H, D) -> (3, B, H, N, D): views, nothing is copied.
    Tensor qkv_heads = qkv(x).reshape({B, N, 3, num_heads, head_dim}).permute({2, 0, 3, 1, 4});
    Tensor q = qkv_heads.select(0, 0), k = qkv_heads.select(0, 1), v = qkv_heads.select(0, 2);

    Tensor attn = matmul(q * scale, k.transpose(-2, -1));  // (B, H, N, N)
    attn = softmax(attn, -1);
    if (attn_probs) *attn_probs = attn;

    Tensor out = matmul(attn, v);                    // (B, H, N, D)
    out = out.transpose(1, 2).reshape({B, N, dim});  // (B, N, H, D) -> (B, N, C)
    return proj(out);
}

}  // namespace vitlab::nn
