// simd_transpose.h: an 8 x 8 block of floats transposed in registers.
//
// Packing for the matrix products often needs a transpose: x @ W^T reads W's rows as b's
// columns, and q @ k^T reads k's rows as b's columns. One float at a time, such a copy walks
// one of the two arrays with a large stride. transpose8x8 instead loads 8 rows of 8 floats,
// shuffles them in registers, and stores 8 rows of 8: every load and store is a whole
// register. Without AVX2 (also part of AVX-512) it is the plain double loop.
#pragma once

#include <cstdint>

#include "tensor/cpu/simd.h"

namespace vitlab::simd {
inline namespace VITLAB_CPU_NS {

#if defined(VITLAB_CPU_AVX2) || defined(VITLAB_CPU_AVX512)
#define VITLAB_CPU_TRANSPOSE8 1
// Transposes the 8 x 8 block held in r[0..7] (row i in r[i]): afterwards r[j] holds column j.
// Three rounds of shuffles: pairs of rows, then quads, then the 128-bit halves.
// Every loop is unrolled (#pragma GCC unroll): g++ -O2 otherwise keeps t, q and r in arrays
// on the stack, a store and a load around every shuffle (pack_b of a transposed b took 3x as
// long as its reads on Zen 5).
inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
    }
    __m256 q[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        q[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      // a0 b0 c0 d0 | a4 b4 c4 d4
        q[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);  // a1 b1 c1 d1 | a5 b5 c5 d5
        q[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        q[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(q[i], q[i + 4], 0x20);      // column i
        r[i + 4] = _mm256_permute2f128_ps(q[i], q[i + 4], 0x31);  // column i + 4
    }
}
#endif

// dst[p * ld_dst + j] = src[j * ld_src + p] for p, j in 0..7.
inline __attribute__((always_inline)) void transpose8x8(const float* src, int64_t ld_src,
                                                        float* dst, int64_t ld_dst) {
#if defined(VITLAB_CPU_TRANSPOSE8)
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld_src);
    transpose8(r);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ld_dst, r[i]);
#else
    for (int p = 0; p < 8; ++p)
        for (int j = 0; j < 8; ++j) dst[p * ld_dst + j] = src[j * ld_src + p];
#endif
}

}  // namespace VITLAB_CPU_NS
}  // namespace vitlab::simd
