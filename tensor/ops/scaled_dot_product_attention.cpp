// scaled_dot_product_attention.cpp: the entry point (checks, the default scale, the choice of
// kernel, recording for backward). The two versions are in *_naive.cpp and *_blocked.cpp.
#include "tensor/ops/scaled_dot_product_attention.h"

#include <cmath>

#include "tensor/autograd.h"
#include "tensor/ops/scaled_dot_product_attention_backward.h"
#include "tensor/ops/scaled_dot_product_attention_internal.h"

namespace vitlab {

namespace detail {

void check_attention_args(const char* op, const Tensor& q, const Tensor& k, const Tensor& v) {
    if (q.dim() != 4 || k.shape() != q.shape() || v.shape() != q.shape())
        throw ShapeError(
            fmt::format("{}: expected q, k, v of the same shape (B, H, N, D), got {}, {}, {}", op,
                        to_string(q.shape()), to_string(k.shape()), to_string(v.shape())));
}

float attention_scale(std::optional<float> scale, const Tensor& q) {
    if (scale) return *scale;
    return 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(q.size(3), 1)));
}

}  // namespace detail

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    std::optional<float> scale, Tensor* attn_probs, Kernel kernel) {
    detail::check_attention_args("scaled_dot_product_attention", q, k, v);
    const float s = detail::attention_scale(scale, q);
    if (autograd::recording(q, k, v)) {
        // The probabilities are not kept for backward (it recomputes them), so handing them out
        // while recording would invite a gradient through them that does not exist.
        if (attn_probs)
            throw AutogradError(
                "scaled_dot_product_attention: attention probabilities are returned for "
                "inspection only; ask for them under autograd::NoGrad (torch.no_grad())");
        return autograd::recorded(
            [&] { return scaled_dot_product_attention(q, k, v, s, nullptr, kernel); },
            [&](Tensor& out) {
                autograd::record(out, "ScaledDotProductAttentionBackward", {q, k, v},
                                 {q, k, v, out},
                                 [s, kernel](const Tensor& dy, const autograd::Node& n) {
                                     const AttentionGrads g = scaled_dot_product_attention_backward(
                                         dy, n.saved_tensor(0), n.saved_tensor(1),
                                         n.saved_tensor(2), n.saved_tensor(3), s, kernel);
                                     return std::vector<Tensor>{g.dq, g.dk, g.dv};
                                 });
            });
    }
    if (resolve(kernel) == Kernel::Naive)
        return scaled_dot_product_attention_naive(q, k, v, s, attn_probs);
    return scaled_dot_product_attention_blocked(q, k, v, s, attn_probs);
}

}  // namespace vitlab
