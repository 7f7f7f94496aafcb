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
// Float sums over 2 x kLanes separate partial sums keep about 1e-6 relative accuracy for rows
// of thousands of features; tests compare with naive. Independent sums are also for speed:
// with one, each add would wait for the previous one. Rows are normalised two at a time, each
// with two partial sums, so four chains of adds run side by side (measured on (577, 768), one
// thread: 0.15 ms with one or two partial sums per row alone, 0.099 ms with four, 0.088 ms
// with two rows of two).
#include "tensor/ops/layer_norm.h"

#include <cmath>

#include "tensor/autograd.h"
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

// kRows neighbouring rows (C floats apart) at once. Each row gets its own sums, two partial
// sums per sum, and exactly the operations it would get alone, so a row's result does not
// depend on whether it was paired. Two rows side by side give four independent chains of
// adds, and overlap one row's divisions and square root with the other's work.
template <int kRows>
void layer_norm_rows(const float* x, float* o, const float* w, const float* b, int64_t C,
                     float eps) {
    const int64_t full = C - C % kLanes;
    const Vec zero = splat(0.0f);
    Vec a[kRows][2];
#pragma GCC unroll 2
    for (int r = 0; r < kRows; ++r) a[r][0] = a[r][1] = zero;
    int64_t i = 0;
    for (; i + 2 * kLanes <= full; i += 2 * kLanes)
#pragma GCC unroll 2
        for (int r = 0; r < kRows; ++r) {
            a[r][0] = add(a[r][0], load(x + r * C + i));
            a[r][1] = add(a[r][1], load(x + r * C + i + kLanes));
        }
    for (; i < full; i += kLanes)
#pragma GCC unroll 2
        for (int r = 0; r < kRows; ++r) a[r][0] = add(a[r][0], load(x + r * C + i));
    float m0[kRows];
#pragma GCC unroll 2
    for (int r = 0; r < kRows; ++r) {
        float sum = sum_lanes(add(a[r][0], a[r][1]));
        for (int64_t t = full; t < C; ++t) sum += x[r * C + t];
        m0[r] = sum / static_cast<float>(C);
    }
    Vec q[kRows][2];
#pragma GCC unroll 2
    for (int r = 0; r < kRows; ++r) a[r][0] = a[r][1] = q[r][0] = q[r][1] = zero;
    for (i = 0; i + 2 * kLanes <= full; i += 2 * kLanes)
#pragma GCC unroll 2
        for (int r = 0; r < kRows; ++r) {
            const Vec vm0 = splat(m0[r]);
            const Vec d0 = sub(load(x + r * C + i), vm0),
                      d1 = sub(load(x + r * C + i + kLanes), vm0);
            a[r][0] = add(a[r][0], d0);
            a[r][1] = add(a[r][1], d1);
            q[r][0] = fmadd(d0, d0, q[r][0]);
            q[r][1] = fmadd(d1, d1, q[r][1]);
        }
    for (; i < full; i += kLanes)
#pragma GCC unroll 2
        for (int r = 0; r < kRows; ++r) {
            const Vec d = sub(load(x + r * C + i), splat(m0[r]));
            a[r][0] = add(a[r][0], d);
            q[r][0] = fmadd(d, d, q[r][0]);
        }
    float mean[kRows], rstd[kRows];
#pragma GCC unroll 2
    for (int r = 0; r < kRows; ++r) {
        float S1 = sum_lanes(add(a[r][0], a[r][1]));
        float S2 = sum_lanes(add(q[r][0], q[r][1]));
        for (int64_t t = full; t < C; ++t) {
            const float d = x[r * C + t] - m0[r];
            S1 += d;
            S2 += d * d;
        }
        const float shift = S1 / static_cast<float>(C);
        mean[r] = m0[r] + shift;
        const float var = std::max(S2 / static_cast<float>(C) - shift * shift, 0.0f);
        rstd[r] = 1.0f / std::sqrt(var + eps);
    }
    for (i = 0; i < full; i += kLanes)
#pragma GCC unroll 2
        for (int r = 0; r < kRows; ++r)
            store(o + r * C + i,
                  fmadd(mul(sub(load(x + r * C + i), splat(mean[r])), splat(rstd[r])), load(w + i),
                        load(b + i)));
#pragma GCC unroll 2
    for (int r = 0; r < kRows; ++r)
        for (int64_t t = full; t < C; ++t)
            o[r * C + t] = (x[r * C + t] - mean[r]) * rstd[r] * w[t] + b[t];
}

void layer_norm_row(const float* x, float* o, const float* w, const float* b, int64_t C,
                    float eps) {
    layer_norm_rows<1>(x, o, w, b, C, eps);
}

using RowFn = void (*)(const float*, float*, const float*, const float*, int64_t, float);

// row_fn normalises one row; pair_fn (or null) two neighbouring rows at once, used for as
// many rows as it can.
Tensor layer_norm_with(RowFn row_fn, RowFn pair_fn, bool threads, const Tensor& x,
                       const Tensor& weight, const Tensor& bias, float eps) {
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
        int64_t r = begin;
        if (pair_fn)
            for (; r + 2 <= end; r += 2) pair_fn(src + r * C, dst + r * C, pw, pb, C, eps);
        for (; r < end; ++r) row_fn(src + r * C, dst + r * C, pw, pb, C, eps);
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
    if (autograd::recording(x, weight, bias))
        return autograd::recorded(
            [&] { return layer_norm(x, weight, bias, eps, kernel); },
            [&](Tensor& out) { autograd::record_layer_norm(out, x, weight, bias, eps); });
    if (resolve(kernel) == Kernel::Naive) return layer_norm_naive(x, weight, bias, eps);
    return layer_norm_blocked(x, weight, bias, eps);
}

Tensor layer_norm_naive(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    return layer_norm_with(layer_norm_row_naive, nullptr, false, x, weight, bias, eps);
}

Tensor layer_norm_blocked(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    return layer_norm_with(layer_norm_row, layer_norm_rows<2>, true, x, weight, bias, eps);
}

}  // namespace vitlab
