// simd.h: one register of floats, and exp and erf computed a whole register at a time.
//
// The elementwise kernels (softmax_blocked.cpp, gelu.cpp, layer_norm.cpp) are written once
// against a small vocabulary of register operations (load, store, add, fmadd, ...). That
// vocabulary is defined three times below, and the compiler flags pick one:
//   AVX-512   16 lanes   (-march=native on a CPU with AVX-512, e.g. AMD Zen 4)
//   AVX2      8 lanes    (-march=native on AVX2 + FMA CPUs, e.g. Zen 3, Intel since 2013)
//   portable  8 lanes    (an array of 8 floats and plain loops: `make SIMD=off`, ARM, ...)
// A loop `for (i = 0; i < n; i += kLanes) store(out + i, f(load(x + i)));` is then SIMD code
// on x86 and plain C++ elsewhere, with the same arithmetic in the same order.
//
// std::exp and std::erf work on one float at a time (and are written for every corner of
// IEEE arithmetic); the two below are polynomials, so they run kLanes at a time:
//
// exp_approx(x), stated accuracy: within 2 ulp of the true exp(x) for x in [-87.3, 88.3]
// (measured by tests/test_simd_math.cpp: at most 1.2 ulp on AVX2 + FMA). exp(x) = 2^k exp(r):
//   k = round(x / ln 2),  r = x - k ln 2 in [-ln2/2, ln2/2]
//   exp(r) ~ 1 + r + r^2 (c2 + c3 r + ... + c6 r^4)   max relative error 3e-9 on that range
//                                                        (coefficients fitted to minimise it)
//   2^k    = a float whose exponent bits are k + 127
// ln 2 is split in two (Cody-Waite): k * kLn2Hi is exact, so r loses no bits. Rounding to k
// uses the "magic number" 1.5 * 2^23: adding it leaves no bits for a fraction, so the float
// add itself rounds x / ln2 to an integer, and k + 127 sits in the low bits, ready to shift
// into the exponent. Outside the range: x < -87.3 gives a denormal or 0 (-inf gives 0);
// x > 88.37 gives +inf (a little early: float overflows at 88.72); NaN stays NaN.
// exp_nonpositive(x) is the same function for x <= 0 (softmax's x - max), without the upper clamp.
//
// erf_approx(x), stated accuracy: within 2e-7 absolute of erf(x) for every x, and within
// 3 ulp for |x| < 1, so tiny x keep their relative accuracy (tests/test_simd_math.cpp).
// For z >= 0 the complement erfc(z) = 1 - erf(z) is the smooth part times a Gaussian:
//   erfc(z) ~ s (a0 + a1 s + ... + a5 s^5) exp(-z^2),   s = 1 / (1 + p z),  p = 0.39
// (the form of Abramowitz & Stegun 7.1.26, with one more coefficient; fitted here, max
// absolute error 8e-9 in exact arithmetic). erfc_nonneg(z) keeps the small values of
// erfc(z) for large z that 1 - erf(z) would round away. For |x| < 1, erf_approx uses an odd
// polynomial instead, whose error shrinks with x. (GELU does not call these: gelu.cpp uses a
// cheaper table of polynomials for its own function; lookup4 and lookup8 below pick from such
// tables, one coefficient for every lane at once.)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 headers trip its own -Wuninitialized and -Wmaybe-uninitialized (GCC bug
// 105593, fixed in 13). The warnings come from inlined intrinsics, so they are switched off
// for the rest of the file that includes this header, on those compilers only.
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace vitlab {
namespace simd {

// ---- one register of floats ---------------------------------------------------------------
// clang-format off
#if defined(__AVX512F__)

using Vec = __m512;
constexpr int64_t kLanes = 16;
constexpr const char* kName = "AVX-512";
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec splat(float s) { return _mm512_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
inline Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec div(Vec a, Vec b) { return _mm512_div_ps(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }    // a * b + c
inline Vec fnmadd(Vec a, Vec b, Vec c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a * b
inline Vec fmsub(Vec a, Vec b, Vec c) { return _mm512_fmsub_ps(a, b, c); }    // a * b - c
// max/min return b when either is NaN (the x86 rule), so a NaN in b survives.
inline Vec vmax(Vec a, Vec b) { return _mm512_max_ps(a, b); }
inline Vec vmin(Vec a, Vec b) { return _mm512_min_ps(a, b); }
inline Vec abs(Vec v) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}
// if_negative ? a : b, lane by lane, where "negative" is x's sign bit (so -0 counts too).
inline Vec where_sign(Vec x, Vec a, Vec b) {
    const __mmask16 neg = _mm512_cmplt_epi32_mask(_mm512_castps_si512(x), _mm512_setzero_si512());
    return _mm512_mask_blend_ps(neg, b, a);
}
// Reinterpret the bits of the float t, shifted left by 23 (into the exponent field).
inline Vec shift_into_exponent(Vec t) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23));
}
// A register of lane indices into an 8-entry table: min(int(v), last) for v >= 0.
using Index = __m512i;
inline Index to_index(Vec v, int last) {
    return _mm512_min_epi32(_mm512_cvttps_epi32(v), _mm512_set1_epi32(last));
}
inline Vec index_to_float(Index i) { return _mm512_cvtepi32_ps(i); }
// table[i] in every lane (i in 0..7): one permute instruction, no memory access per lane.
inline Vec lookup8(const float* table, Index i) {
    return _mm512_permutexvar_ps(i, _mm512_zextps256_ps512(_mm256_loadu_ps(table)));
}
// Lane indices into a 4-entry table from s = j + kRoundToInt (j = 0..3 in the low bits of s),
// and table[j]: a permute within each 128-bit block, which reads only those 2 bits.
inline Index index4(Vec s) { return _mm512_castps_si512(s); }
inline Vec lookup4(const float* table, Index i) {
    return _mm512_permutevar_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(table)), i);
}
// The first `count` floats of p (0 < count <= kLanes) in a register, the other lanes `fill`;
// and the first `count` lanes of v stored to p. Masked: nothing beyond p[count - 1] is touched.
inline Vec load_part(const float* p, int64_t count, float fill) {
    return _mm512_mask_loadu_ps(splat(fill), static_cast<__mmask16>((1u << count) - 1), p);
}
inline void store_part(float* p, Vec v, int64_t count) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1), v);
}
inline float sum_lanes(Vec v) { return _mm512_reduce_add_ps(v); }
inline float max_lanes(Vec v) { return _mm512_reduce_max_ps(v); }

#elif defined(__AVX2__)

using Vec = __m256;
constexpr int64_t kLanes = 8;
constexpr const char* kName = "AVX2";
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec splat(float s) { return _mm256_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
#if defined(__FMA__)
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec fnmadd(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }
inline Vec fmsub(Vec a, Vec b, Vec c) { return _mm256_fmsub_ps(a, b, c); }
#else
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
inline Vec fnmadd(Vec a, Vec b, Vec c) { return _mm256_sub_ps(c, _mm256_mul_ps(a, b)); }
inline Vec fmsub(Vec a, Vec b, Vec c) { return _mm256_sub_ps(_mm256_mul_ps(a, b), c); }
#endif
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
inline Vec vmin(Vec a, Vec b) { return _mm256_min_ps(a, b); }
inline Vec abs(Vec v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
inline Vec where_sign(Vec x, Vec a, Vec b) { return _mm256_blendv_ps(b, a, x); }
inline Vec shift_into_exponent(Vec t) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
}
using Index = __m256i;
inline Index to_index(Vec v, int last) {
    return _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(last));
}
inline Vec index_to_float(Index i) { return _mm256_cvtepi32_ps(i); }
inline Vec lookup8(const float* table, Index i) {
    return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), i);
}
// For 4-entry tables the index is a byte-shuffle control (bytes 4j .. 4j + 3 of the table in
// each lane): vpshufb runs on other execution ports than the FMAs on Zen 3, and two per cycle,
// where vpermps (lookup8) takes more than a cycle each. index4 builds it once per register.
inline Index index4(Vec s) {
    const __m256i j4 = _mm256_slli_epi32(_mm256_castps_si256(s), 2);  // 4j in each lane's byte 0
    const __m256i byte0 = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12,
                                           0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
    return _mm256_add_epi32(_mm256_shuffle_epi8(j4, byte0), _mm256_set1_epi32(0x03020100));
}
inline Vec lookup4(const float* table, Index i) {  // the table in both 128-bit halves, shuffled
    // (written so that GCC keeps the 8 tables in registers across a loop, not reloading them)
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(table));
    return _mm256_castsi256_ps(_mm256_shuffle_epi8(_mm256_broadcastsi128_si256(t), i));
}
// All-ones in lanes 0 .. count - 1.
inline __m256i lane_mask(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline Vec load_part(const float* p, int64_t count, float fill) {
    const __m256i m = lane_mask(count);
    return _mm256_blendv_ps(splat(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline void store_part(float* p, Vec v, int64_t count) {
    _mm256_maskstore_ps(p, lane_mask(count), v);
}
// Halve the register until one lane is left: 8 -> 4 -> 2 -> 1.
inline float sum_lanes(Vec v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}
inline float max_lanes(Vec v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}

#else  // portable: a register is an array of 8 floats, each operation a loop over them

// Eight lanes, as AVX2, so sums are split the same way (a row's floats go to 8 partial sums,
// which keeps the rounding error of long sums small). Compilers turn these short fixed loops
// into SSE or NEON instructions where they can.
constexpr int64_t kLanes = 8;
constexpr const char* kName = "portable";
struct Vec {
    float v[kLanes];
};
inline Vec load(const float* p) { Vec r; for (int i = 0; i < kLanes; ++i) r.v[i] = p[i]; return r; }
inline void store(float* p, Vec a) { for (int i = 0; i < kLanes; ++i) p[i] = a.v[i]; }
inline Vec splat(float s) { Vec r; for (float& x : r.v) x = s; return r; }
inline Vec add(Vec a, Vec b) { for (int i = 0; i < kLanes; ++i) a.v[i] += b.v[i]; return a; }
inline Vec sub(Vec a, Vec b) { for (int i = 0; i < kLanes; ++i) a.v[i] -= b.v[i]; return a; }
inline Vec mul(Vec a, Vec b) { for (int i = 0; i < kLanes; ++i) a.v[i] *= b.v[i]; return a; }
inline Vec div(Vec a, Vec b) { for (int i = 0; i < kLanes; ++i) a.v[i] /= b.v[i]; return a; }
inline Vec fmadd(Vec a, Vec b, Vec c) { return add(mul(a, b), c); }  // two roundings here
inline Vec fnmadd(Vec a, Vec b, Vec c) { return sub(c, mul(a, b)); }
inline Vec fmsub(Vec a, Vec b, Vec c) { return sub(mul(a, b), c); }
inline Vec vmax(Vec a, Vec b) {  // b when either is NaN, as on x86
    for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
}
inline Vec vmin(Vec a, Vec b) {
    for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return a;
}
inline Vec abs(Vec a) { for (float& x : a.v) x = std::fabs(x); return a; }
inline Vec where_sign(Vec x, Vec a, Vec b) {
    for (int i = 0; i < kLanes; ++i) b.v[i] = std::signbit(x.v[i]) ? a.v[i] : b.v[i];
    return b;
}
inline Vec shift_into_exponent(Vec t) {
    for (float& x : t.v) {
        uint32_t bits;
        std::memcpy(&bits, &x, sizeof bits);
        bits <<= 23;
        std::memcpy(&x, &bits, sizeof x);
    }
    return t;
}
struct Index {
    int32_t v[kLanes];
};
// NaN and v >= last give last (converting those to an integer would be undefined in C++).
inline Index to_index(Vec a, int last) {
    Index r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] < last ? static_cast<int32_t>(a.v[i]) : last;
    return r;
}
inline Vec index_to_float(Index j) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = static_cast<float>(j.v[i]);
    return r;
}
inline Vec lookup8(const float* table, Index j) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = table[j.v[i]];
    return r;
}
inline Index index4(Vec s) {
    Index r;
    for (int i = 0; i < kLanes; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &s.v[i], sizeof bits);
        r.v[i] = static_cast<int32_t>(bits & 3);
    }
    return r;
}
inline Vec lookup4(const float* table, Index j) { return lookup8(table, j); }
inline Vec load_part(const float* p, int64_t count, float fill) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = i < count ? p[i] : fill;
    return r;
}
inline void store_part(float* p, Vec a, int64_t count) {
    for (int i = 0; i < count; ++i) p[i] = a.v[i];
}
inline float sum_lanes(Vec a) {  // in pairs, as the SIMD versions: 8 -> 4 -> 2 -> 1
    for (int h = kLanes / 2; h > 0; h /= 2)
        for (int i = 0; i < h; ++i) a.v[i] += a.v[i + h];
    return a.v[0];
}
inline float max_lanes(Vec a) {
    float m = a.v[0];
    for (int i = 1; i < kLanes; ++i) m = m > a.v[i] ? m : a.v[i];
    return m;
}

#endif
// clang-format on

// ---- prefetch -------------------------------------------------------------------------------

// Asks the memory system to start bringing p's cache line into L1 now; the loop goes on
// without waiting. A hint only: it never faults, even past the end of an array.
inline void prefetch(const float* p) {
    __builtin_prefetch(p, 0, 3);
}

// ---- exp (accuracy in the file header) ---------------------------------------------------

constexpr float kExpLow = -88.0f;  // round(-88 / ln 2) = -127: exponent bits 0, so 2^k = 0
constexpr float kExpHigh = 89.0f;  // round(89 / ln 2) = 128: exponent bits 255, so 2^k = inf
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693145751953125f;         // 16 significant bits: k * kLn2Hi is exact
constexpr float kLn2Lo = 1.42860682030941723e-6f;    // ln 2 - kLn2Hi
constexpr float kRoundToInt = 12582912.0f;           // 1.5 * 2^23: v + this rounds v to an integer
constexpr float kRoundMagic = kRoundToInt + 127.0f;  // plus the exponent bias

// exp for x already in [kExpLow, kExpHigh] (or NaN): the reduction and the polynomial.
inline Vec exp_in_range(Vec xc) {
    const Vec t = fmadd(xc, splat(kLog2e), splat(kRoundMagic));  // k + 127 in the low bits
    const Vec k = sub(t, splat(kRoundMagic));                    // k, as a float
    Vec r = fnmadd(k, splat(kLn2Hi), xc);                        // r = x - k ln 2
    r = fnmadd(k, splat(kLn2Lo), r);
    Vec p = splat(0.0013814593f);  // Horner's rule for c2 + c3 r + c4 r^2 + c5 r^3 + c6 r^4
    p = fmadd(p, r, splat(0.00836870836f));
    p = fmadd(p, r, splat(0.0416683875f));
    p = fmadd(p, r, splat(0.166665207f));
    p = fmadd(p, r, splat(0.499999935f));
    p = fmadd(p, mul(r, r), add(splat(1.0f), r));  // 1 + r + r^2 p
    return mul(p, shift_into_exponent(t));
}

inline Vec exp_approx(Vec x) {
    // vmax(low, x), not vmax(x, low): a NaN in x must survive (see vmax).
    return exp_in_range(vmin(splat(kExpHigh), vmax(splat(kExpLow), x)));
}

// exp(x) for x <= 0 (or -inf, or NaN), e.g. softmax's x - max: the same bits as exp_approx,
// one operation fewer (no upper clamp). Positive x above 88 would give garbage.
inline Vec exp_nonpositive(Vec x) {
    return exp_in_range(vmax(splat(kExpLow), x));
}

// ---- erfc and erf (accuracy in the file header) ------------------------------------------

// erfc(z) for z >= 0 (or +inf; NaN stays NaN). Absolute error below 2e-8, and relative error
// small enough that 0.5 x erfc(x / sqrt 2), GELU's tail, keeps 1e-6 absolute.
inline Vec erfc_nonneg(Vec z) {
    const Vec s = div(splat(1.0f), fmadd(z, splat(0.39f), splat(1.0f)));
    Vec p = splat(-0.22753699f);
    p = fmadd(p, s, splat(0.886663818f));
    p = fmadd(p, s, splat(-0.635399381f));
    p = fmadd(p, s, splat(0.649558674f));
    p = fmadd(p, s, splat(0.0913887054f));
    p = fmadd(p, s, splat(0.235325173f));
    const Vec gauss = exp_approx(fnmadd(z, z, splat(0.0f)));  // exp(-z^2)
    return mul(mul(p, s), gauss);
}

// erf(x) for every x. Near 0, erf(x) = x (c0 + c1 x^2 + ... + c6 x^12) (odd, fitted on
// [-1, 1], relative error 1.2e-9) keeps its relative accuracy; from |x| = 1 on, 1 - erfc(|x|).
inline Vec erf_approx(Vec x) {
    const Vec ax = abs(x), x2 = mul(x, x);
    Vec p = splat(7.8539314e-05f);
    p = fmadd(p, x2, splat(-0.000801021377f));
    p = fmadd(p, x2, splat(0.00518832985f));
    p = fmadd(p, x2, splat(-0.026853813f));
    p = fmadd(p, x2, splat(0.112835852f));
    p = fmadd(p, x2, splat(-0.376126258f));
    p = fmadd(p, x2, splat(1.12837917f));
    const Vec near_zero = mul(p, x);
    const Vec tail = sub(splat(1.0f), erfc_nonneg(ax));           // erf(|x|)
    const Vec far = where_sign(x, sub(splat(0.0f), tail), tail);  // erf is odd
    return where_sign(sub(ax, splat(1.0f)), near_zero, far);      // |x| < 1 ? near_zero : far
}

}  // namespace simd
}  // namespace vitlab
