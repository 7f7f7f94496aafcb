// attention_backward.cpp: scaled-dot-product attention backward, naive (a query row at a time)
// and blocked (a head at a time, on the blocked matmul). Formulas in attention_backward.h.
#include "nn/attention_backward.h"

#include <cmath>
#include <limits>
#include <vector>

#include "nn/attention.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace vitlab::nn {

namespace {

void check_shapes(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                  const Tensor& out) {
    if (q.dim() != 4 || k.shape() != q.shape() || v.shape() != q.shape())
        throw ShapeError(
            fmt::format("attention_heads_backward: expected q, k, v of the same shape "
                        "(B, H, N, D), got {}, {}, {}",
                        to_string(q.shape()), to_string(k.shape()), to_string(v.shape())));
    const Shape merged{q.size(0), q.size(2), q.size(1) * q.size(3)};
    if (out.shape() != merged || dout.shape() != merged)
        throw ShapeError(
            fmt::format("attention_heads_backward: expected out and dout of shape {} "
                        "(B, N, H * D), got {} and {}",
                        to_string(merged), to_string(out.shape()), to_string(dout.shape())));
}

// (B, N, H * D) -> (B, H, N, D), packed.
Tensor split_heads(const Tensor& t, int64_t H) {
    const int64_t B = t.size(0), N = t.size(1), D = t.size(2) / H;
    return t.reshape({B, N, H, D}).transpose(1, 2).contiguous();
}

}  // namespace

AttentionGrads attention_heads_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                        const Tensor& v, const Tensor& out, float scale,
                                        Kernel kernel) {
    if (resolve(kernel) == Kernel::Naive)
        return attention_heads_backward_naive(dout, q, k, v, out, scale);
    return attention_heads_backward_blocked(dout, q, k, v, out, scale);
}

AttentionGrads attention_heads_backward_naive(const Tensor& dout, const Tensor& q, const Tensor& k,
                                              const Tensor& v, const Tensor& out, float scale) {
    check_shapes(dout, q, k, v, out);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
    const Tensor o = split_heads(out, H), dO = split_heads(dout, H);
    AttentionGrads g{zeros(q.shape()), zeros(q.shape()), zeros(q.shape())};
    std::vector<double> p(static_cast<size_t>(N)), ds(static_cast<size_t>(N));
    for (int64_t bh = 0; bh < B * H; ++bh) {
        const int64_t base = bh * N * D;  // this head's (N, D) block in every packed tensor
        const float* Q = qc.data() + base;
        const float* K = kc.data() + base;
        const float* V = vc.data() + base;
        const float* O = o.data() + base;
        const float* G = dO.data() + base;
        float* dQ = g.dq.data() + base;
        float* dK = g.dk.data() + base;
        float* dV = g.dv.data() + base;
        for (int64_t i = 0; i < N; ++i) {
            // p = softmax(q_i . k_j * scale over j), recomputed.
            double m = -std::numeric_limits<double>::infinity();
            for (int64_t j = 0; j < N; ++j) {
                double s = 0.0;
                for (int64_t d = 0; d < D; ++d)
                    s += static_cast<double>(Q[i * D + d]) * K[j * D + d];
                p[j] = s * scale;
                m = std::fmax(m, p[j]);
            }
            double sum = 0.0;
            for (int64_t j = 0; j < N; ++j) sum += (p[j] = std::exp(p[j] - m));
            for (int64_t j = 0; j < N; ++j) p[j] /= sum;
            double delta = 0.0;  // dO_i . O_i = sum_j dP_ij P_ij
            for (int64_t d = 0; d < D; ++d)
                delta += static_cast<double>(G[i * D + d]) * O[i * D + d];
            for (int64_t j = 0; j < N; ++j) {
                double dp = 0.0;  // dP_ij = dO_i . v_j
                for (int64_t d = 0; d < D; ++d)
                    dp += static_cast<double>(G[i * D + d]) * V[j * D + d];
                ds[j] = p[j] * (dp - delta);
                for (int64_t d = 0; d < D; ++d)
                    dV[j * D + d] += static_cast<float>(p[j] * G[i * D + d]);
            }
            for (int64_t d = 0; d < D; ++d) {
                double acc = 0.0;
                for (int64_t j = 0; j < N; ++j) acc += ds[j] * K[j * D + d];
                dQ[i * D + d] = static_cast<float>(acc * scale);
            }
            for (int64_t j = 0; j < N; ++j)
                for (int64_t d = 0; d < D; ++d)
                    dK[j * D + d] += static_cast<float>(ds[j] * scale * Q[i * D + d]);
        }
    }
    return g;
}

AttentionGrads attention_heads_backward_blocked(const Tensor& dout, const Tensor& q,
                                                const Tensor& k, const Tensor& v, const Tensor& out,
                                                float scale) {
    check_shapes(dout, q, k, v, out);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    const Tensor o = out.reshape({B, N, H, D}).transpose(1, 2);  // (B, H, N, D) views
    const Tensor dO = dout.reshape({B, N, H, D}).transpose(1, 2);
    AttentionGrads g{empty(q.shape()), empty(q.shape()), empty(q.shape())};
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h) {
            const Tensor qh = q.select(0, b).select(0, h), kh = k.select(0, b).select(0, h),
                         vh = v.select(0, b).select(0, h);    // (N, D)
            const Tensor doh = dO.select(0, b).select(0, h);  // (N, D)
            const Tensor oh = o.select(0, b).select(0, h);
            Tensor p = matmul_blocked(qh, kh.transpose(0, 1));  // (N, N) scores of this head
            p *= scale;
            softmax_(p, -1);
            g.dv.select(0, b).select(0, h).copy_(matmul_blocked(p.transpose(0, 1), doh));
            Tensor ds = matmul_blocked(doh, vh.transpose(0, 1));  // dP (N, N)
            // dS = P * (dP - Delta), Delta_i = dO_i . O_i
            const Tensor delta = sum(doh * oh, -1, true);  // (N, 1)
            ds = p * (ds - delta);
            ds *= scale;
            g.dq.select(0, b).select(0, h).copy_(matmul_blocked(ds, kh));
            g.dk.select(0, b).select(0, h).copy_(matmul_blocked(ds.transpose(0, 1), qh));
        }
    return g;
}

Tensor attention_heads_recorded(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                Kernel kernel) {
    if (!autograd::recording(q, k, v)) return attention_heads(q, k, v, scale, nullptr, kernel);
    return autograd::recorded([&] { return attention_heads(q, k, v, scale, nullptr, kernel); },
                              [&](Tensor& out) {
                                  autograd::record(
                                      out, "AttentionBackward", {q, k, v}, {q, k, v, out},
                                      [scale, kernel](const Tensor& dy, const autograd::Node& n) {
                                          const AttentionGrads g = attention_heads_backward(
                                              dy, n.saved_tensor(0), n.saved_tensor(1),
                                              n.saved_tensor(2), n.saved_tensor(3), scale, kernel);
                                          return std::vector<Tensor>{g.dq, g.dk, g.dv};
                                      });
                              });
}

}  // namespace vitlab::nn
