// scaled_dot_product_attention_naive.cpp: attention as its formula reads, with matmul and
// softmax (scaled_dot_product_attention.h). The reference for the blocked version.
#include "tensor/ops/elementwise.h"
#include "tensor/ops/matmul.h"
#include "tensor/ops/scaled_dot_product_attention.h"
#include "tensor/ops/scaled_dot_product_attention_internal.h"
#include "tensor/ops/softmax.h"

namespace vitlab {

Tensor scaled_dot_product_attention_naive(const Tensor& q, const Tensor& k, const Tensor& v,
                                          std::optional<float> scale, Tensor* attn_probs) {
    detail::check_attention_args("scaled_dot_product_attention_naive", q, k, v);
    const float s = detail::attention_scale(scale, q);
    Tensor attn = matmul(q * s, k.transpose(-2, -1), Kernel::Naive);  // (B, H, N, N)
    attn = softmax(attn, -1, Kernel::Naive);
    if (attn_probs) *attn_probs = attn;
    return matmul(attn, v, Kernel::Naive);  // (B, H, N, D)
}

}  // namespace vitlab
