// layer_norm.cpp: LayerNorm over the last dim (see layer_norm.h for the formula).
//
// Each row of C numbers (one token's features) is normalised on its own: shift to mean 0,
// scale to variance 1, then the learned per-feature weight and bias. Rows are independent, so
// threads take whole rows (in the blocked version). Two versions, as for softmax and matmul:
//
// naive: two passes in double (mean first, then the squared deviations from it). The one-pass
// formula E[x^2] - E[x]^2 cancels catastrophically when the mean is large compared to the
// spread, so it is not used in either version.
//
// blocked: a register at a time (simd.h), float lanes, and three passes over the row, which
// stays in L1 (a row of 768 floats is 3 KB):
//   1. m0 = sum_i x_i / C                                  a first guess of the mean
//   2. d_i = x_i - m0:  S1 = sum_i d_i,  S2 = sum_i d_i^2  deviations from the guess
//      mean = m0 + S1 / C,  var = S2 / C - (S1 / C)^2      ("corrected two-pass" formula:
//      S1 is the small rounding error of m0, so nothing large cancels)
//   3. out_i = (x_i - mean) * rstd * weight_i + bias_i,     rstd = 1 / sqrt(var + eps)
// Float sums over 4 x kLanes separate partial sums keep about 1e-6 relative accuracy for rows
// of thousands of features; tests compare with naive. The 4 partial sums are also for speed:
// with one, each add would wait for the previous one (measured on (577, 768), one thread:
// 0.15 ms with one or two accumulators per sum, 0.10 ms with four).
#include "tensor/ops/layer_norm.h"

#include <cmath>

#include "tensor/ops/simd.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

void check_affine(const Tensor& x, const Tensor& t, const char* role) {
    const int64_t C = x.size(-1);
    if (t.shape() != Shape{C})
        throw ShapeError(fmt::format("layer_norm: {} {} does not match x {}: expected ({})", role,
                                     to_string(t.shape()), to_string(x.shape()), C));
}

void check_shapes(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    if (x.dim() == 0)
        throw ShapeError("layer_norm: expected x of shape (..., C), got a 0-d tensor ()");
    check_affine(x, weight, "weight");
    check_affine(x, bias, "bias");
}

// Below this many elements, starting threads costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

// ---- naive: the formula, in double --------------------------------------------------------

void layer_norm_row_naive(const float* row, float* o, const float* w, const float* b, int64_t C,
                          float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < C; ++i) sum += row[i];
    const double mean = sum / static_cast<double>(C);
    double sq = 0.0;
    for (int64_t i = 0; i < C; ++i) sq += (row[i] - mean) * (row[i] - mean);
    const double var = sq / static_cast<double>(C);  // biased, as PyTorch
    const float m = static_cast<float>(mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    for (int64_t i = 0; i < C; ++i) o[i] = (row[i] - m) * rstd * w[i] + b[i];
}

// ---- blocked: a register at a time ----------------------------------------------------------
using namespace simd;

void layer_norm_row(const float* x, float* o, const float* w, const float* b, int64_t C,
                    float eps) {
    const int64_t full = C - C % kLanes;  // whole registers, then a scalar tail
    // Four accumulators per sum: an add needs 3-4 cycles before the next add to the same
    // register can start, so one accumulator would leave the adders idle most of the time.
    const Vec zero = splat(0.0f);
    Vec a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    int64_t i = 0;
    for (; i + 4 * kLanes <= full; i += 4 * kLanes) {
        a0 = add(a0, load(x + i));
        a1 = add(a1, load(x + i + kLanes));
        a2 = add(a2, load(x + i + 2 * kLanes));
        a3 = add(a3, load(x + i + 3 * kLanes));
    }
    for (; i < full; i += kLanes) a0 = add(a0, load(x + i));
    float sum = sum_lanes(add(add(a0, a1), add(a2, a3)));
    for (i = full; i < C; ++i) sum += x[i];
    const float m0 = sum / static_cast<float>(C);

    const Vec vm0 = splat(m0);
    // Sums of d (into a0..a3 again) and of d^2 (into q0..q3).
    a0 = a1 = a2 = a3 = zero;
    Vec q0 = zero, q1 = zero, q2 = zero, q3 = zero;
    for (i = 0; i + 4 * kLanes <= full; i += 4 * kLanes) {
        const Vec d0 = sub(load(x + i), vm0), d1 = sub(load(x + i + kLanes), vm0);
        const Vec d2 = sub(load(x + i + 2 * kLanes), vm0), d3 = sub(load(x + i + 3 * kLanes), vm0);
        a0 = add(a0, d0);
        a1 = add(a1, d1);
        a2 = add(a2, d2);
        a3 = add(a3, d3);
        q0 = fmadd(d0, d0, q0);
        q1 = fmadd(d1, d1, q1);
        q2 = fmadd(d2, d2, q2);
        q3 = fmadd(d3, d3, q3);
    }
    for (; i < full; i += kLanes) {
        const Vec d = sub(load(x + i), vm0);
        a0 = add(a0, d);
        q0 = fmadd(d, d, q0);
    }
    float S1 = sum_lanes(add(add(a0, a1), add(a2, a3)));
    float S2 = sum_lanes(add(add(q0, q1), add(q2, q3)));
    for (i = full; i < C; ++i) {
        const float d = x[i] - m0;
        S1 += d;
        S2 += d * d;
    }
    const float shift = S1 / static_cast<float>(C);
    const float mean = m0 + shift;
    const float var = std::max(S2 / static_cast<float>(C) - shift * shift, 0.0f);  // biased
    const float rstd = 1.0f / std::sqrt(var + eps);

    const Vec vmean = splat(mean), vrstd = splat(rstd);
    for (i = 0; i < full; i += kLanes)
        store(o + i, fmadd(mul(sub(load(x + i), vmean), vrstd), load(w + i), load(b + i)));
    for (i = full; i < C; ++i) o[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

using RowFn = void (*)(const float*, float*, const float*, const float*, int64_t, float);

Tensor layer_norm_with(RowFn row_fn, bool threads, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, float eps) {
    check_shapes(x, weight, bias);
    const int64_t C = x.size(-1);
    Tensor out = empty(x.shape());
    if (out.numel() == 0) return out;
    const Tensor in = x.contiguous(), w = weight.contiguous(), b = bias.contiguous();
    const float* src = in.data();
    const float* pw = w.data();
    const float* pb = b.data();
    float* dst = out.data();
    auto rows = [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) row_fn(src + r * C, dst + r * C, pw, pb, C, eps);
    };
    const int64_t n_rows = out.numel() / C;
    if (!threads || out.numel() < kParallelMin) {
        rows(0, n_rows);
    } else {
        parallel_for(0, n_rows, rows);
    }
    return out;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  Kernel kernel) {
    if (resolve(kernel) == Kernel::Naive) return layer_norm_naive(x, weight, bias, eps);
    return layer_norm_blocked(x, weight, bias, eps);
}

Tensor layer_norm_naive(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    return layer_norm_with(layer_norm_row_naive, false, x, weight, bias, eps);
}

Tensor layer_norm_blocked(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    return layer_norm_with(layer_norm_row, true, x, weight, bias, eps);
}

}  // namespace vitlab
