// register_tile.h: the micro-kernel of every matrix product, an (MR, NR) tile of c in registers.
//
// c (MR, NR) = a (MR, kc) @ b (kc, NR), b packed: row p of b is the NR floats at b + p * NR.
// One step p loads b[p][0 .. NR) into NR / L registers (L floats per register), then for each
// row r broadcasts a(r, p) and does NR / L fused multiply-adds into row r's accumulators:
// MR * NR / L multiply-adds for NR / L + MR loads. The tile sizes per instruction set:
//   AVX-512 (L = 16): 12 x 32 tile, 24 accumulators + 2 for b of the 32 registers
//   AVX2    (L = 8):   6 x 16 tile, 12 accumulators + 2 for b + 1 broadcast of 16
//   NEON    (L = 4):   8 x 12 tile, 24 accumulators + 3 for b of 32
//   portable (L = 8):  8 x 8 tile of plain floats; the compiler vectorises what it can
// matmul_kernels.cpp reads a from packed micro-panels (a(r, p) at p * MR + r), the attention
// kernels read q and the scores in place (a(r, p) at r * lda + p): `A` says which.
#pragma once

#include <cstdint>

#include "tensor/cpu/simd.h"

namespace vitlab::simd {
inline namespace VITLAB_CPU_NS {

#if defined(VITLAB_CPU_AVX512)
constexpr int64_t kTileRows = 12, kTileCols = 32;
#elif defined(VITLAB_CPU_AVX2)
constexpr int64_t kTileRows = 6, kTileCols = 16;  // 12 accumulators of the 16 registers
#elif defined(VITLAB_CPU_NEON)
constexpr int64_t kTileRows = 8, kTileCols = 12;
#else
constexpr int64_t kTileRows = 8, kTileCols = 8;
#endif
static_assert(kTileCols % kLanes == 0, "a tile row is whole registers");

// a(r, p) for a packed micro-panel, k-major.
struct PackedRows {
    const float* a;
    float operator()(int64_t r, int64_t p) const { return a[p * kTileRows + r]; }
};
// a(r, p) for rows read in place, lda apart.
struct StridedRows {
    const float* a;
    int64_t lda;
    float operator()(int64_t r, int64_t p) const { return a[r * lda + p]; }
};

// c (kTileRows, kTileCols), rows ldc apart, gets (accumulate ? c : 0) + a @ b; then, if bias
// is not null, + bias[j] on every row, while c is in registers (a Linear layer's bias: the
// same roundings as c += bias afterwards).
// b's rows are ldb apart (Cols for a packed panel). Rows and Cols default to the tile above;
// attention's products with a narrow head (D = 16 on AVX-512) use a tile one register wide instead,
// so that no column of it is padding.
template <class A, int Rows = kTileRows, int Cols = kTileCols>
inline __attribute__((always_inline)) void register_tile(int64_t kc, A a, const float* b, float* c,
                                                         int64_t ldc, bool accumulate,
                                                         const float* bias, int64_t ldb = Cols) {
    static_assert(Cols % kLanes == 0, "a tile row is whole registers");
    constexpr int kVecs = Cols / kLanes;
    // Ask for the c tile now, so that it has arrived from L2 / L3 by the end of the K loop.
    for (int r = 0; r < Rows; ++r) {
        __builtin_prefetch(c + r * ldc, 1);
        __builtin_prefetch(c + r * ldc + Cols - 1, 1);
    }
    Vec acc[Rows][kVecs];
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) acc[r][v] = splat(0.0f);

    for (int64_t p = 0; p < kc; ++p, b += ldb) {
        Vec bv[kVecs];
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) bv[v] = load(b + v * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < Rows; ++r) {
            const Vec ar = splat(a(r, p));
#pragma GCC unroll 4
            for (int v = 0; v < kVecs; ++v) acc[r][v] = fmadd(ar, bv[v], acc[r][v]);
        }
    }

    Vec bias_v[kVecs];
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) bias_v[v] = bias ? load(bias + v * kLanes) : splat(0.0f);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) {
            float* dst = c + r * ldc + v * kLanes;
            Vec sum = accumulate ? add(load(dst), acc[r][v]) : acc[r][v];
            if (bias) sum = add(sum, bias_v[v]);
            store(dst, sum);
        }
}

}  // namespace VITLAB_CPU_NS
}  // namespace vitlab::simd
