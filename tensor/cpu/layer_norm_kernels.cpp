// layer_norm_kernels.cpp: LayerNorm rows a register at a time, per instruction set
// (kernels.h); the formula, the naive version and the threads are in tensor/ops/layer_norm.cpp.
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
// with two partial sums, so four chains of adds run side by side (docs/performance.md).
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/simd.h"

namespace vitlab::cpu::VITLAB_CPU_NS {

namespace {

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
        float var = S2 / static_cast<float>(C) - shift * shift;
        if (var < 0.0f) var = 0.0f;  // rounding; a NaN stays NaN
        rstd[r] = 1.0f / __builtin_sqrtf(var + eps);
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

// Rows two at a time, then the last one alone.
void layer_norm(const float* x, float* o, const float* w, const float* b, int64_t rows, int64_t C,
                float eps) {
    int64_t r = 0;
    for (; r + 2 <= rows; r += 2) layer_norm_rows<2>(x + r * C, o + r * C, w, b, C, eps);
    if (r < rows) layer_norm_rows<1>(x + r * C, o + r * C, w, b, C, eps);
}

// The backward, a row at a time (layer_norm_backward.h):
//   xhat = (x - mean) rstd,  g = dy * w,  dx = rstd (g - mean(g) - xhat mean(g xhat))
//   dw += dy * xhat,  db += dy       (dw, db: C floats, zeroed here, in L1 across the rows)
// mean and variance in two passes over the row (it is in L1 by then).
void layer_norm_backward_rows(const float* dy, const float* x, const float* w, float* dx, float* dw,
                              float* db, int64_t rows, int64_t C, float eps) {
    const int64_t full = C / kLanes * kLanes;
    const float inv_c = 1.0f / static_cast<float>(C);
    for (int64_t i = 0; i < C; ++i) dw[i] = db[i] = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * C;
        const float* d = dy + r * C;
        float* o = dx + r * C;
        Vec a = splat(0.0f);
        for (int64_t i = 0; i < full; i += kLanes) a = add(a, load(xr + i));
        float sum = sum_lanes(a);
        for (int64_t i = full; i < C; ++i) sum += xr[i];
        const float mean = sum * inv_c;
        const Vec vmean = splat(mean);
        Vec q = splat(0.0f);
        for (int64_t i = 0; i < full; i += kLanes) {
            const Vec c = sub(load(xr + i), vmean);
            q = fmadd(c, c, q);
        }
        float sq = sum_lanes(q);
        for (int64_t i = full; i < C; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
        const float rstd = 1.0f / __builtin_sqrtf(sq * inv_c + eps);
        const Vec vrstd = splat(rstd);
        // g goes through o: the second loop reads the rounded g that was summed, so that
        // g - mean(g) is exactly 0 where it should be (C = 1, constant rows), which a product
        // fused into the subtraction (d * w - mg in one rounding) would not give.
        Vec sg = splat(0.0f), sgx = splat(0.0f);
        for (int64_t i = 0; i < full; i += kLanes) {
            const Vec xh = mul(sub(load(xr + i), vmean), vrstd);
            const Vec dv = load(d + i);
            const Vec g = mul(dv, load(w + i));
            store(o + i, g);
            sg = add(sg, g);
            sgx = fmadd(g, xh, sgx);
            store(dw + i, fmadd(dv, xh, load(dw + i)));
            store(db + i, add(load(db + i), dv));
        }
        float mg = sum_lanes(sg), mgx = sum_lanes(sgx);
        for (int64_t i = full; i < C; ++i) {
            const float xh = (xr[i] - mean) * rstd, g = d[i] * w[i];
            o[i] = g;
            mg += g;
            mgx += g * xh;
            dw[i] += d[i] * xh;
            db[i] += d[i];
        }
        mg *= inv_c;
        mgx *= inv_c;
        const Vec vmg = splat(mg), vmgx = splat(mgx);
        for (int64_t i = 0; i < full; i += kLanes) {
            const Vec xh = mul(sub(load(xr + i), vmean), vrstd);
            store(o + i, mul(vrstd, fnmadd(xh, vmgx, sub(load(o + i), vmg))));
        }
        for (int64_t i = full; i < C; ++i) {
            const float xh = (xr[i] - mean) * rstd;
            o[i] = rstd * ((o[i] - mg) - xh * mgx);
        }
    }
}

}  // namespace

const LayerNormKernels layer_norm_kernels = {layer_norm, layer_norm_backward_rows};

}  // namespace vitlab::cpu::VITLAB_CPU_NS
