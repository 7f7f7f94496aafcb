// attention.h: multi-head self-attention, as timm's Attention (fused qkv).
//
//   x (B, N, C), H heads, head_dim D = C / H
//   qkv = qkv(x)                                   (B, N, 3C)       one Linear(C, 3C)
//       .reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4)               (3, B, H, N, D)
//   q, k, v = qkv[0], qkv[1], qkv[2]                each (B, H, N, D)
//   out = scaled_dot_product_attention(q, k, v)     (B, H, N, D)     tensor/ops/
//         .transpose(1, 2).reshape(B, N, C)         heads merged back
//   y = proj(out)                                   (B, N, C)        Linear(C, C)
// scaled_dot_product_attention is softmax(q @ k^T / sqrt(D), dim = -1) @ v, in a naive and a
// blocked version (tensor/ops/scaled_dot_product_attention.h); the blocked one already writes
// its output with the heads merged, so the merge is a view.
// The qkv weight (3C, C) stacks W_q, W_k, W_v (rows 0..C-1 are W_q): the layout of timm and
// of torch.nn.MultiheadAttention's in_proj_weight.
#pragma once

#include <cstdint>

#include "nn/init.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace vitlab::nn {

class Attention : public Module {
  public:
    // dim must be divisible by num_heads (else std::invalid_argument).
    Attention(int64_t dim, int64_t num_heads, bool qkv_bias = true,
              Generator& gen = default_generator());

    // x (B, N, dim) -> (B, N, dim). When attn_probs is not null it receives the attention
    // probabilities (B, num_heads, N, N), for inspection: only under autograd::NoGrad while
    // x or a parameter requires grad (else AutogradError). The Kernel, naive or blocked, is
    // default_kernel()'s.
    Tensor forward(const Tensor& x, Tensor* attn_probs = nullptr) const;
    Tensor operator()(const Tensor& x, Tensor* attn_probs = nullptr) const {
        return forward(x, attn_probs);
    }

    int64_t dim, num_heads, head_dim;
    float scale;  // 1 / sqrt(head_dim)
    Linear qkv;   // weight (3*dim, dim)
    Linear proj;  // weight (dim, dim)
};

}  // namespace vitlab::nn
