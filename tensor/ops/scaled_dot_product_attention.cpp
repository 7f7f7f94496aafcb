// scaled_dot_product_attention.cpp: the entry point (checks, the default scale, the choice of
// kernel, recording for backward). The two versions are in *_naive.cpp and *_blocked.cpp.
#include "tensor/ops/scaled_dot_product_attention.h"

#include <cmath>

#include "tensor/autograd.h"
#include "tensor/cpu/kernels.h"
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

bool whole_heads(std::initializer_list<const Tensor*> heads) {
    if (!cpu::kernels().attention.head_fits((*heads.begin())->size(3))) return false;
    for (const Tensor* t : heads)
        if (t->stride(3) != 1) return false;
    return true;
}

void prefetch_head(const Tensor& t, int64_t b, int64_t h) {
    const float* head = t.data() + b * t.stride(0) + h * t.stride(1);
    const int64_t N = t.size(2), D = t.size(3), row = t.stride(2);
    constexpr int64_t kLine = 16;  // floats in a 64-byte cache line
    for (int64_t i = 0; i < N; ++i)
        for (int64_t d = 0; d < D; d += kLine) __builtin_prefetch(head + i * row + d);
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

Tensor multi_head_attention_packed(const Tensor& qkv, int64_t num_heads, float scale,
                                   Kernel kernel) {
    if (qkv.dim() != 3 || num_heads <= 0 || qkv.size(2) % (3 * num_heads) != 0)
        throw ShapeError(fmt::format(
            "multi_head_attention_packed: expected qkv (B, N, 3 * H * D) with H = {} heads, got {}",
            num_heads, to_string(qkv.shape())));
    const int64_t B = qkv.size(0), N = qkv.size(1), C = qkv.size(2) / 3, H = num_heads;
    const int64_t D = C / H;
    // (B, N, 3C) -> (B, N, 3, H, D) -> (3, B, H, N, D), views; and (B, N, C) -> (B, H, N, D).
    const auto split = [=](const Tensor& t) {
        return t.reshape({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});
    };
    const auto heads = [=](const Tensor& t) { return t.reshape({B, N, H, D}).transpose(1, 2); };
    const auto forward = [&] {
        const Tensor h = split(qkv);
        return scaled_dot_product_attention(h.select(0, 0), h.select(0, 1), h.select(0, 2), scale,
                                            nullptr, kernel)
            .transpose(1, 2)
            .reshape({B, N, C});
    };
    if (!autograd::recording(qkv)) return forward();
    return autograd::recorded(forward, [&](Tensor& out) {
        autograd::record(
            out, "MultiHeadAttentionBackward", {qkv}, {qkv, out},
            [=](const Tensor& dy, const autograd::Node& n) {
                const Tensor h = split(n.saved_tensor(0)), o = heads(n.saved_tensor(1));
                const Tensor q = h.select(0, 0), k = h.select(0, 1), v = h.select(0, 2);
                const Tensor dout = heads(dy);
                Tensor dqkv = empty({B, N, 3 * C});
                const Tensor dh = split(dqkv);
                Tensor dq = dh.select(0, 0), dk = dh.select(0, 1), dv = dh.select(0, 2);
                if (resolve(kernel) == Kernel::Naive) {
                    const AttentionGrads g =
                        scaled_dot_product_attention_backward_naive(dout, q, k, v, o, scale);
                    dq.copy_(g.dq), dk.copy_(g.dk), dv.copy_(g.dv);
                } else {
                    detail::attention_backward_into(dout, q, k, v, o, scale, dq, dk, dv);
                }
                return std::vector<Tensor>{dqkv};
            });
    });
}

}  // namespace vitlab
