// scaled_dot_product_attention.h: attention, as torch.nn.functional.scaled_dot_product_attention
// (no mask, no dropout):
//
//   q, k, v (B, H, N, D)   B images, H heads, N tokens, head dim D
//   attn = softmax(q @ k^T * scale, dim = -1)     (B, H, N, N)   each row sums to 1
//   out  = attn @ v                               (B, H, N, D)
//   scale defaults to 1 / sqrt(D), PyTorch's default
//
// Two versions (the formula and one that keeps the scores in cache), as for softmax and matmul:
//   naive    the formula as written, with matmul and softmax: all (B, H, N, N) scores are
//            built at once (16 MB for ViT-B at 384 px: N = 577, 12 heads), written to memory,
//            read back by softmax, written again and read once more by attn @ v
//            (scaled_dot_product_attention_naive.cpp)
//   blocked  the same numbers one head and one block of query rows at a time, on the SIMD
//            kernels of tensor/cpu/attention_kernels.cpp, split across threads: a score is
//            written once, into the cache, and read twice from it
//            (scaled_dot_product_attention_blocked.cpp). Small heads (N <= 256 tokens, D of 1
//            to 4 registers: vit_fmnist's N = 50, D = 16) go a whole head at a time, with the
//            scores transposed so that the query index runs across the lanes and nothing of
//            size D is padded (attention_kernels.cpp draws it).
// The two agree within 1e-5 (tests/test_nn_attention.cpp). The blocked one writes its result
// as (B, N, H * D) and returns the (B, H, N, D) view of it, out.transpose(1, 2): a multi-head
// layer's merge of the heads, out.transpose(1, 2).reshape(B, N, H * D), is then free.
//
// When attn_probs is not null it receives the probabilities (B, H, N, N), for looking at:
// only without recording (under autograd::NoGrad), else AutogradError. While recording, one
// node whose backward is scaled_dot_product_attention_backward (its header).
#pragma once

#include <optional>

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

// q, k, v of one shape (B, H, N, D), any strides (views of a qkv Linear's output).
// Kernel::Default follows default_kernel().
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    std::optional<float> scale = std::nullopt,
                                    Tensor* attn_probs = nullptr, Kernel kernel = Kernel::Default);
Tensor scaled_dot_product_attention_naive(const Tensor& q, const Tensor& k, const Tensor& v,
                                          std::optional<float> scale = std::nullopt,
                                          Tensor* attn_probs = nullptr);
Tensor scaled_dot_product_attention_blocked(const Tensor& q, const Tensor& k, const Tensor& v,
                                            std::optional<float> scale = std::nullopt,
                                            Tensor* attn_probs = nullptr);

// Multi-head attention on a qkv Linear's output: qkv (B, N, 3 * H * D) holds q, k, v as
// (B, N, 3, H, D) (timm's and torchvision's order); the heads' outputs come back merged,
// (B, N, H * D). The same numbers as scaled_dot_product_attention on the three views of qkv,
// but while recording it is one node whose backward writes d(qkv) in qkv's own layout, instead
// of three gradients each scattered into a zero tensor of qkv's size and added up.
Tensor multi_head_attention_packed(const Tensor& qkv, int64_t num_heads, float scale,
                                   Kernel kernel = Kernel::Default);

}  // namespace vitlab
