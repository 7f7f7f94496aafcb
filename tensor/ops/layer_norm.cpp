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
// Float sums over kLanes separate lanes keep about 1e-6 relative accuracy for rows of
// thousands of features (each lane adds C / kLanes numbers); tests compare with naive.
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
    // Two accumulators each, so consecutive adds do not wait for one another.
    Vec s0 = splat(0.0f), s1 = splat(0.0f);
    int64_t i = 0;
    for (; i + 2 * kLanes <= full; i += 2 * kLanes) {
        s0 = add(s0, load(x + i));
        s1 = add(s1, load(x + i + kLanes));
    }
    if (i < full) s0 = add(s0, load(x + i));
    float sum = sum_lanes(add(s0, s1));
    for (i = full; i < C; ++i) sum += x[i];
    const float m0 = sum / static_cast<float>(C);

    const Vec vm0 = splat(m0);
    Vec d1 = splat(0.0f), d2 = splat(0.0f);
    for (i = 0; i < full; i += kLanes) {
        const Vec d = sub(load(x + i), vm0);
        d1 = add(d1, d);
        d2 = fmadd(d, d, d2);
    }
    float S1 = sum_lanes(d1), S2 = sum_lanes(d2);
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
