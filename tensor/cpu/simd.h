// simd.h: one register of floats, and exp computed a whole register at a time.
//
// The SIMD kernels (tensor/cpu/*_kernels.cpp) are written once against a small vocabulary of
// register operations (load, store, add, fmadd, ...). Each of those files is compiled once per
// instruction set (see tensor/cpu/isa.h), and the vocabulary below is defined once per set;
// the build picks one with a macro and the matching compiler flags:
//   AVX-512   16 lanes   -DVITLAB_CPU_AVX512 -mavx512f -mavx512bw -mavx512vl -mavx512dq ...
//   AVX2      8 lanes    -DVITLAB_CPU_AVX2 -mavx2 -mfma
//   NEON      4 lanes    the baseline build on 64-bit ARM, where every CPU has NEON
//   portable  8 lanes    the baseline build elsewhere: an array of 8 floats and plain loops
// A loop `for (i = 0; i < n; i += kLanes) store(out + i, f(load(x + i)));` is then SIMD code
// on x86 and ARM and plain C++ elsewhere, with the same arithmetic in the same order.
// Everything here lives in an inline namespace named after the set (simd::avx2::load, ...),
// so the copies compiled with different flags never share a symbol: the linker cannot hand
// an AVX-512 function to a caller on a CPU without AVX-512.
//
// std::exp works on one float at a time (and is written for every corner of IEEE
// arithmetic); the one below is a polynomial, so it runs kLanes at a time:
//
// exp_approx(x), stated accuracy: within 2 ulp of the true exp(x) for x in [-87.3, 88.3]
// (measured by tests/test_simd_math.cpp: at most 1.2 ulp with FMA). exp(x) = 2^k exp(r):
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
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(VITLAB_CPU_AVX512)
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__FMA__)
#error "VITLAB_CPU_AVX512 needs -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma"
#endif
#define VITLAB_CPU_NS avx512
#include <immintrin.h>
#elif defined(VITLAB_CPU_AVX2)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "VITLAB_CPU_AVX2 needs -mavx2 -mfma"
#endif
#define VITLAB_CPU_NS avx2
#include <immintrin.h>
#else
#define VITLAB_CPU_NS base
#if defined(__ARM_NEON) && defined(__aarch64__)
#define VITLAB_CPU_NEON 1
#include <arm_neon.h>
#endif
#endif

// GCC 12's AVX-512 headers trip its own -Wuninitialized and -Wmaybe-uninitialized (GCC bug
// 105593, fixed in 13). The warnings come from inlined intrinsics, so they are switched off
// for the rest of the file that includes this header, on those compilers only.
#if defined(VITLAB_CPU_AVX512) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace vitlab::simd {
inline namespace VITLAB_CPU_NS {

// ---- one register of floats ---------------------------------------------------------------
// clang-format off
#if defined(VITLAB_CPU_AVX512)

using Vec = __m512;
constexpr int64_t kLanes = 16;
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
// Reinterpret the bits of the float t, shifted left by 23 (into the exponent field).
inline Vec shift_into_exponent(Vec t) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23));
}
// Lane indices into a 4-entry table from s = j + kRoundToInt (j = 0..3 in the low bits of s),
// and table[j]: a permute within each 128-bit block, which reads only those 2 bits.
using Index = __m512i;
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

#elif defined(VITLAB_CPU_AVX2)

using Vec = __m256;
constexpr int64_t kLanes = 8;
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec splat(float s) { return _mm256_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec fnmadd(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }
inline Vec fmsub(Vec a, Vec b, Vec c) { return _mm256_fmsub_ps(a, b, c); }
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
inline Vec vmin(Vec a, Vec b) { return _mm256_min_ps(a, b); }
inline Vec abs(Vec v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
inline Vec shift_into_exponent(Vec t) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
}
// For 4-entry tables the index is a byte-shuffle control (bytes 4j .. 4j + 3 of the table in
// each lane): vpshufb runs on other execution ports than the FMAs on Zen 3, and two per cycle,
// where vpermps takes more than a cycle each. index4 builds it once per register.
using Index = __m256i;
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

#elif defined(VITLAB_CPU_NEON)

using Vec = float32x4_t;
constexpr int64_t kLanes = 4;
inline Vec load(const float* p) { return vld1q_f32(p); }
inline void store(float* p, Vec v) { vst1q_f32(p, v); }
inline Vec splat(float s) { return vdupq_n_f32(s); }
inline Vec add(Vec a, Vec b) { return vaddq_f32(a, b); }
inline Vec sub(Vec a, Vec b) { return vsubq_f32(a, b); }
inline Vec mul(Vec a, Vec b) { return vmulq_f32(a, b); }
inline Vec div(Vec a, Vec b) { return vdivq_f32(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return vfmaq_f32(c, a, b); }
inline Vec fnmadd(Vec a, Vec b, Vec c) { return vfmsq_f32(c, a, b); }
inline Vec fmsub(Vec a, Vec b, Vec c) { return vnegq_f32(vfmsq_f32(c, a, b)); }
// a > b ? a : b, so b when either is NaN, as on x86 (vmaxq_f32 would return the NaN of a too).
inline Vec vmax(Vec a, Vec b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
inline Vec vmin(Vec a, Vec b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
inline Vec abs(Vec v) { return vabsq_f32(v); }
inline Vec shift_into_exponent(Vec t) {
    return vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23));
}
// For 4-entry tables the index is a byte-table control, bytes 4j .. 4j + 3 in each lane.
using Index = uint8x16_t;
inline Index index4(Vec s) {
    const uint32x4_t j4 = vshlq_n_u32(vandq_u32(vreinterpretq_u32_f32(s), vdupq_n_u32(3)), 2);
    return vreinterpretq_u8_u32(vmlaq_u32(vdupq_n_u32(0x03020100), j4, vdupq_n_u32(0x01010101)));
}
inline Vec lookup4(const float* table, Index i) {
    return vreinterpretq_f32_u8(vqtbl1q_u8(vld1q_u8(reinterpret_cast<const uint8_t*>(table)), i));
}
inline Vec load_part(const float* p, int64_t count, float fill) {
    float tmp[kLanes] = {fill, fill, fill, fill};
    for (int64_t i = 0; i < count; ++i) tmp[i] = p[i];
    return vld1q_f32(tmp);
}
inline void store_part(float* p, Vec v, int64_t count) {
    float tmp[kLanes];
    vst1q_f32(tmp, v);
    for (int64_t i = 0; i < count; ++i) p[i] = tmp[i];
}
inline float sum_lanes(Vec v) {  // 4 -> 2 -> 1
    const float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(h, h), 0);
}
inline float max_lanes(Vec v) { return vmaxvq_f32(v); }

#else  // portable: a register is an array of 8 floats, each operation a loop over them

// Eight lanes, as AVX2, so sums are split the same way (a row's floats go to 8 partial sums,
// which keeps the rounding error of long sums small). Compilers turn these short fixed loops
// into SSE or NEON instructions where they can.
constexpr int64_t kLanes = 8;
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
inline Index index4(Vec s) {
    Index r;
    for (int i = 0; i < kLanes; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &s.v[i], sizeof bits);
        r.v[i] = static_cast<int32_t>(bits & 3);
    }
    return r;
}
inline Vec lookup4(const float* table, Index j) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = table[j.v[i]];
    return r;
}
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

}  // namespace VITLAB_CPU_NS
}  // namespace vitlab::simd
