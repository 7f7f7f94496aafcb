// attention.h: multi-head self-attention, as timm's Attention (fused qkv).
//
//   x (B, N, C), H heads, head_dim D = C / H
//   qkv = qkv(x)                                   (B, N, 3C)       one Linear(C, 3C)
//       .reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4)               (3, B, H, N, D)
//   q, k, v = qkv[0], qkv[1], qkv[2]                each (B, H, N, D)
//   attn = softmax(q @ k^T / sqrt(D), dim = -1)     (B, H, N, N)     each row sums to 1
//   out  = (attn @ v)                               (B, H, N, D)
//          .transpose(1, 2).reshape(B, N, C)        heads merged back
//   y = proj(out)                                   (B, N, C)        Linear(C, C)
// The qkv weight (3C, C) stacks W_q, W_k, W_v (rows 0..C-1 are W_q): the layout of timm and
// of torch.nn.MultiheadAttention's in_proj_weight.
//
// The middle three lines (attn, out, merge) are attention_heads() below, in two versions:
// attention_heads_naive writes them as they read, with matmul and softmax, and builds all
// (B, H, N, N) scores; attention_heads_blocked computes the same numbers one head and one
// block of query rows at a time, so the scores never leave the cache (attention.cpp).
#pragma once

#include <cstdint>

#include "nn/init.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/ops/kernel.h"

namespace vitlab::nn {

// q, k, v (B, H, N, D), any strides (views of qkv's output) -> out (B, N, H * D):
//   out[b, i, h*D : (h+1)*D] = softmax(q[b, h] @ k[b, h]^T * scale, dim = -1)[i] @ v[b, h]
// When attn_probs is not null it receives the probabilities (B, H, N, N). The two versions
// agree within 1e-5 (tests/test_nn_attention.cpp). Kernel::Default follows default_kernel().
Tensor attention_heads(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       Tensor* attn_probs = nullptr, Kernel kernel = Kernel::Default);
Tensor attention_heads_naive(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                             Tensor* attn_probs = nullptr);
Tensor attention_heads_blocked(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                               Tensor* attn_probs = nullptr);

class Attention : public Module {
  public:
    // dim must be divisible by num_heads (else std::invalid_argument).
    Attention(int64_t dim, int64_t num_heads, bool qkv_bias = true,
              Generator& gen = default_generator());

    // x (B, N, dim) -> (B, N, dim). When attn_probs is not null it receives the attention
    // probabilities (B, num_heads, N, N), for inspection.
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
