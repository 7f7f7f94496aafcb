// scaled_dot_product_attention_backward.cpp: attention backward, naive (a query row at a time)
// and blocked (a head at a time, on the blocked matmul). Formulas in the header.
#include "tensor/ops/scaled_dot_product_attention_backward.h"

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/ops.h"
#include "tensor/ops/scaled_dot_product_attention_internal.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

void check_shapes(const char* op, const Tensor& dout, const Tensor& q, const Tensor& k,
                  const Tensor& v, const Tensor& out) {
    detail::check_attention_args(op, q, k, v);
    if (out.shape() != q.shape() || dout.shape() != q.shape())
        throw ShapeError(
            fmt::format("{}: expected out and dout of shape {} (B, H, N, D), got {} and {}", op,
                        to_string(q.shape()), to_string(out.shape()), to_string(dout.shape())));
}

}  // namespace

AttentionGrads scaled_dot_product_attention_backward(const Tensor& dout, const Tensor& q,
                                                     const Tensor& k, const Tensor& v,
                                                     const Tensor& out, float scale,
                                                     Kernel kernel) {
    if (resolve(kernel) == Kernel::Naive)
        return scaled_dot_product_attention_backward_naive(dout, q, k, v, out, scale);
    return scaled_dot_product_attention_backward_blocked(dout, q, k, v, out, scale);
}

AttentionGrads scaled_dot_product_attention_backward_naive(const Tensor& dout, const Tensor& q,
                                                           const Tensor& k, const Tensor& v,
                                                           const Tensor& out, float scale) {
    check_shapes("scaled_dot_product_attention_backward", dout, q, k, v, out);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
    const Tensor o = out.contiguous(), dO = dout.contiguous();
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

namespace detail {

void attention_backward_into(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, float scale, Tensor& dq, Tensor& dk, Tensor& dv) {
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    if (q.numel() == 0) return;
    const cpu::AttentionKernels& ak = cpu::kernels().attention;
    const bool whole = whole_heads({&q, &k, &v, &out, &dout});  // else the general kernel
    const int64_t scratch = whole ? ak.head_scratch(N, D) : ak.backward_scratch(N, D);
    const auto kernel = whole ? ak.backward_head : ak.backward;
    // One head's (N, D) rows of t: element (i, d) at data[i * row + d * col].
    const auto head = [](const Tensor& t, int64_t b, int64_t h) {
        return cpu::Strided{t.data() + b * t.stride(0) + h * t.stride(1), t.stride(2), t.stride(3)};
    };
    const auto dst = [](Tensor& t, int64_t b, int64_t h) {
        return t.data() + b * t.stride(0) + h * t.stride(1);
    };
    // A head is 5 products of N * N * D multiply-adds (one recomputes the scores).
    const int64_t head_work = 5 * N * N * D;
    parallel_for(0, B * H, ceil_div(kGrainMultiplyAdds, head_work), [&](int64_t t0, int64_t t1) {
        // The scratch of one thread, kept between calls (fresh pages would cost faults).
        static thread_local std::vector<float> buffer;
        if (static_cast<int64_t>(buffer.size()) < scratch) buffer.resize(scratch);
        cpu::AttentionBackwardHead job;
        job.N = N, job.D = D, job.scale = scale, job.scratch = buffer.data();
        job.ldq = dq.stride(2), job.ldk = dk.stride(2), job.ldv = dv.stride(2);
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / H, h = t % H;
            job.q = head(q, b, h), job.k = head(k, b, h), job.v = head(v, b, h);
            job.out = head(out, b, h), job.dout = head(dout, b, h);
            job.dq = dst(dq, b, h), job.dk = dst(dk, b, h), job.dv = dst(dv, b, h);
            if (whole && t + 1 < t1)
                for (const Tensor* next : {&q, &k, &v, &out, &dout})
                    prefetch_head(*next, (t + 1) / H, (t + 1) % H);
            kernel(job);
        }
    });
}

}  // namespace detail

AttentionGrads scaled_dot_product_attention_backward_blocked(const Tensor& dout, const Tensor& q,
                                                             const Tensor& k, const Tensor& v,
                                                             const Tensor& out, float scale) {
    check_shapes("scaled_dot_product_attention_backward", dout, q, k, v, out);
    AttentionGrads g{empty(q.shape()), empty(q.shape()), empty(q.shape())};
    detail::attention_backward_into(dout, q, k, v, out, scale, g.dq, g.dk, g.dv);
    return g;
}

}  // namespace vitlab
