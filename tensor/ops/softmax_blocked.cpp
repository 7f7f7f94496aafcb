// softmax_blocked.cpp: softmax on contiguous memory with SIMD and threads.
//
// The same three passes as softmax_naive.cpp, each now a streaming loop over whole registers:
//   1. m   = max_i x_i                      kLanes running maxima, reduced once at the end
//   2. e_i = exp(x_i - m), s = sum_i e_i    e is written to out; kLanes running sums
//   3. out_i = e_i * (1 / s)
//
// After x.contiguous(), view x as (outer, n, inner) where n is the size of `dim`:
//   - inner == 1 (dim is the last one, e.g. attention scores (B, heads, N, N) over dim -1):
//     every row is n contiguous floats. Threads take whole rows.
//   - inner > 1: the row of element (o, :, j) has stride `inner`. Rather than gathering it,
//     run the three passes on a block of up to kColumns neighbouring columns at once: each
//     step reads `inner`-contiguous floats, so the same registers do the work; m and s become
//     one value per column. Threads take (o, column block) pairs.
//
// exp is computed here (exp_approx) rather than by std::exp so that it runs kLanes at a time:
//   exp(x) = 2^k * exp(r),  k = round(x / ln 2),  r = x - k ln 2  in [-ln2/2, ln2/2]
//   exp(r) = 1 + r + r^2/2! + ... + r^7/7!    (the Taylor series; the first term left out,
//                                              r^8/8!, is < 6e-9 relative for |r| <= ln2/2)
//   2^k    = a float whose exponent bits are k + 127 (built with integer ops)
// ln 2 is split in two (Cody-Waite) so k * ln2_hi is exact and r loses no bits.
// Measured against double-precision exp on 10^7 points of [-87, 0]: max relative error
// 7.9e-8 with FMA (AVX2), 1.0e-7 without (portable): about 1 ulp of float. Inputs below
// -87.33 (where exp leaves float's normal range) give 0, -inf gives 0, NaN stays NaN; inputs
// above 88 are clamped to 88 (softmax only ever passes x - max <= 0).
//
// One vocabulary of register operations (load, store, add, ...) is defined three times: for
// AVX-512 (16 lanes), AVX2 (8 lanes), and plain float (1 lane, the portable fallback that
// `make SIMD=off` builds). The passes are written once against it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>

#include "tensor/ops/softmax.h"
#include "tensor/parallel/thread_pool.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (GCC bug 105593, fixed in 13).
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace vitlab {

namespace {

// ---- one register of floats ---------------------------------------------------------------
// clang-format off
#if defined(__AVX512F__)

using Vec = __m512;
constexpr int64_t kLanes = 16;
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec splat(float s) { return _mm512_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
inline Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
// max/min return b when either is NaN (the x86 rule), so a NaN in b survives.
inline Vec vmax(Vec a, Vec b) { return _mm512_max_ps(a, b); }
inline Vec vmin(Vec a, Vec b) { return _mm512_min_ps(a, b); }
inline Vec round_to_int(Vec v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// 2^k for whole numbers k in [-126, 127]: k + 127 goes in the exponent bits 23..30.
inline Vec pow2(Vec k) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
// v, with 0 in the lanes where x < limit.
inline Vec zero_where_below(Vec v, Vec x, float limit) {
    const __mmask16 below = _mm512_cmp_ps_mask(x, splat(limit), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(below, v, _mm512_setzero_ps());
}

#elif defined(__AVX2__)

using Vec = __m256;
constexpr int64_t kLanes = 8;
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec splat(float s) { return _mm256_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
#if defined(__FMA__)
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
#else
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
#endif
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
inline Vec vmin(Vec a, Vec b) { return _mm256_min_ps(a, b); }
inline Vec round_to_int(Vec v) {
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline Vec pow2(Vec k) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
inline Vec zero_where_below(Vec v, Vec x, float limit) {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, splat(limit), _CMP_LT_OQ), v);
}

#else  // portable: one float is a register of one lane

using Vec = float;
constexpr int64_t kLanes = 1;
inline Vec load(const float* p) { return *p; }
inline void store(float* p, Vec v) { *p = v; }
inline Vec splat(float s) { return s; }
inline Vec add(Vec a, Vec b) { return a + b; }
inline Vec sub(Vec a, Vec b) { return a - b; }
inline Vec mul(Vec a, Vec b) { return a * b; }
inline Vec fmadd(Vec a, Vec b, Vec c) { return a * b + c; }
inline Vec vmax(Vec a, Vec b) { return a > b ? a : b; }  // b when either is NaN, as on x86
inline Vec vmin(Vec a, Vec b) { return a < b ? a : b; }
inline Vec round_to_int(Vec v) { return std::nearbyint(v); }
inline Vec pow2(Vec k) {
    if (std::isnan(k)) return k;  // converting NaN to an integer is undefined in C++
    const int32_t bits = (static_cast<int32_t>(k) + 127) * (1 << 23);
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}
inline Vec zero_where_below(Vec v, Vec x, float limit) { return x < limit ? 0.0f : v; }

#endif
// clang-format on

// The first `count` floats of p (count <= kLanes) in a register; the other lanes hold fill.
inline Vec load_part(const float* p, int64_t count, float fill) {
    if (count == kLanes) return load(p);
    alignas(64) float buf[kLanes];
    for (int64_t i = 0; i < kLanes; ++i) buf[i] = i < count ? p[i] : fill;
    return load(buf);
}

inline void store_part(float* p, Vec v, int64_t count) {
    if (count == kLanes) return store(p, v);
    alignas(64) float buf[kLanes];
    store(buf, v);
    for (int64_t i = 0; i < count; ++i) p[i] = buf[i];
}

// Sum and max of the lanes (once per row, so a plain loop is fast enough).
inline float sum_lanes(Vec v) {
    alignas(64) float buf[kLanes];
    store(buf, v);
    float s = 0.0f;
    for (int64_t i = 0; i < kLanes; ++i) s += buf[i];
    return s;
}

inline float max_lanes(Vec v) {
    alignas(64) float buf[kLanes];
    store(buf, v);
    float m = buf[0];
    for (int64_t i = 1; i < kLanes; ++i) m = std::max(m, buf[i]);
    return m;
}

// ---- exp, kLanes at a time (accuracy in the file header) ---------------------------------
constexpr float kExpLow = -87.33f;  // exp(-87.33) ~ 1.19e-38, just above FLT_MIN
constexpr float kExpHigh = 88.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f;       // 16 significant bits: k * kLn2Hi is exact
constexpr float kLn2Lo = 1.42860682030941723e-6f;  // ln 2 - kLn2Hi

inline Vec exp_approx(Vec x) {
    const Vec xc = vmin(splat(kExpHigh), vmax(splat(kExpLow), x));  // NaN stays in xc
    const Vec k = round_to_int(mul(xc, splat(kLog2e)));
    Vec r = fmadd(k, splat(-kLn2Hi), xc);
    r = fmadd(k, splat(-kLn2Lo), r);
    // 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r(1/720 + r/5040)))))), Horner's rule
    Vec p = splat(1.0f / 5040.0f);
    p = fmadd(p, r, splat(1.0f / 720.0f));
    p = fmadd(p, r, splat(1.0f / 120.0f));
    p = fmadd(p, r, splat(1.0f / 24.0f));
    p = fmadd(p, r, splat(1.0f / 6.0f));
    p = fmadd(p, r, splat(0.5f));
    p = fmadd(p, r, splat(1.0f));
    p = fmadd(p, r, splat(1.0f));
    return zero_where_below(mul(p, pow2(k)), x, kExpLow);
}

// ---- the three passes ----------------------------------------------------------------------
constexpr float kInf = std::numeric_limits<float>::infinity();

// out = softmax(x) of one contiguous row of n floats (n >= 1).
void softmax_row(const float* x, float* out, int64_t n) {
    const int64_t full = n - n % kLanes, rest = n - full;  // whole registers, then a tail

    Vec vm = splat(-kInf);
    for (int64_t i = 0; i < full; i += kLanes) vm = vmax(vm, load(x + i));
    if (rest) vm = vmax(vm, load_part(x + full, rest, -kInf));
    const Vec m = splat(max_lanes(vm));

    Vec vs = splat(0.0f);
    for (int64_t i = 0; i < full; i += kLanes) {
        const Vec e = exp_approx(sub(load(x + i), m));
        store(out + i, e);
        vs = add(vs, e);
    }
    if (rest) {  // the -inf fill lanes give exp = 0 and add nothing
        const Vec e = exp_approx(sub(load_part(x + full, rest, -kInf), m));
        store_part(out + full, e, rest);
        vs = add(vs, e);
    }

    const float inv = 1.0f / sum_lanes(vs);
    const Vec vinv = splat(inv);
    for (int64_t i = 0; i < full; i += kLanes) store(out + i, mul(load(out + i), vinv));
    for (int64_t i = full; i < n; ++i) out[i] *= inv;
}

constexpr int64_t kColumns = 64;  // columns per block: m and s stay in registers / L1

// softmax down each of the w <= kColumns columns of an (n, w) block whose rows are ld apart.
void softmax_columns(const float* x, float* out, int64_t n, int64_t w, int64_t ld) {
    alignas(64) float m[kColumns], s[kColumns];
    std::fill(m, m + kColumns, -kInf);
    std::fill(s, s + kColumns, 0.0f);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; j += kLanes) {
            const int64_t c = std::min(kLanes, w - j);
            store(m + j, vmax(load(m + j), load_part(x + r * ld + j, c, -kInf)));
        }
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; j += kLanes) {
            const int64_t c = std::min(kLanes, w - j);
            const Vec e = exp_approx(sub(load_part(x + r * ld + j, c, 0.0f), load(m + j)));
            store_part(out + r * ld + j, e, c);
            store(s + j, add(load(s + j), e));
        }
    for (int64_t j = 0; j < w; ++j) s[j] = 1.0f / s[j];
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; ++j) out[r * ld + j] *= s[j];
}

// Below this many elements, starting threads costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

void run(int64_t tasks, int64_t elements, const std::function<void(int64_t, int64_t)>& fn) {
    if (elements < kParallelMin) return fn(0, tasks);
    parallel_for(0, tasks, fn);
}

}  // namespace

Tensor softmax_blocked(const Tensor& x, int64_t dim) {
    // A 0-d tensor is a row of one element, as in torch (dim 0 or -1).
    if (x.dim() == 0)
        return softmax_blocked(x.reshape(Shape{1}), wrap_dim(dim, 1, "softmax")).reshape(Shape{});
    const int64_t d = wrap_dim(dim, x.dim(), "softmax");
    const Tensor in = x.contiguous();
    Tensor out = empty(x.shape());
    if (out.numel() == 0) return out;

    // (outer, n, inner) around dim d.
    const int64_t n = x.size(d);
    int64_t inner = 1;
    for (int64_t k = d + 1; k < x.dim(); ++k) inner *= x.size(k);
    const int64_t outer = out.numel() / (n * inner);
    const float* src = in.data();
    float* dst = out.data();

    if (inner == 1) {
        run(outer, out.numel(), [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) softmax_row(src + r * n, dst + r * n, n);
        });
        return out;
    }
    const int64_t blocks = (inner + kColumns - 1) / kColumns;
    run(outer * blocks, out.numel(), [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int64_t o = t / blocks, j = t % blocks * kColumns;
            const int64_t offset = o * n * inner + j;
            softmax_columns(src + offset, dst + offset, n, std::min(kColumns, inner - j), inner);
        }
    });
    return out;
}

}  // namespace vitlab
