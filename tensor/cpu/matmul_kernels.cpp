// matmul_kernels.cpp: the micro-kernel and the packing of matmul_blocked, per instruction set.
//
// tensor/ops/matmul_blocked.cpp draws the five loops and owns them; this file holds what they
// call in the innermost places: the register tile (register_tile.h) and the two packers that
// copy a and b into the order it reads. Compiled once per instruction set (kernels.h).
//
// Packing: an a block becomes MR-row micro-panels stored k-major (a[r][p] at p * MR + r); b
// becomes NR-column micro-panels, also k-major (b[p][j] at p * NR + j), so the micro-kernel
// reads both with unit stride. The packers read a and b through their strides, so transposed
// or sliced inputs need no copy, and they pad ragged last rows / columns with zeros, so the
// micro-kernel always computes a whole tile (one cut by the edge of c goes through a buffer,
// or, when only rows are missing, a tile of fewer rows).
#include <array>
#include <cstring>
#include <utility>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/register_tile.h"
#include "tensor/cpu/simd_transpose.h"

namespace vitlab::cpu::VITLAB_CPU_NS {

namespace {

using simd::kTileCols;
using simd::kTileRows;
constexpr int64_t kMR = kTileRows, kNR = kTileCols;

// Cache blocks, for a core with 32 KB of L1 and 512 KB or more of L2:
//   KC: a b micro-panel, KC * NR floats, takes 16 KB, half of L1 (the other half streams a);
//       24 KB on AVX-512 (KC = 192): the 12 x 32 tile then reads and writes its c tile every
//       192 steps, not 128. On Zen 5 (48 KB of L1) ViT-B's fc2 went from 0.95-0.97x OpenBLAS
//       to 0.97-0.99x on 1 thread, the other shapes within the noise (KC = 256, and MC = 588,
//       all of ViT's 577 rows in one block, gave the same).
//   MC: an a block, MC * KC floats, is 144 KB on AVX2, a fraction of L2.
// To try other sizes: make CXXFLAGS='-DVITLAB_MC_TILES=16 -DVITLAB_KC_BYTES=24576' bench
// (MC in micro-panels of MR rows; KC from the bytes of one b micro-panel).
#ifndef VITLAB_MC_TILES
#define VITLAB_MC_TILES 24
#endif
#ifndef VITLAB_KC_BYTES
#if defined(VITLAB_CPU_AVX512)
#define VITLAB_KC_BYTES 24576
#else
#define VITLAB_KC_BYTES 16384
#endif
#endif
constexpr int64_t kKC = VITLAB_KC_BYTES / (kNR * 4);
constexpr int64_t kMC = VITLAB_MC_TILES * kMR;

int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
          const float* bias) {
    simd::register_tile(kc, simd::PackedRows{a}, b, c, ldc, accumulate, bias);
}

// a(r, p) = data[p * ld + r]: the rows of a transposed matrix (dy^T in dW = dy^T @ x) are its
// columns; the tile broadcasts one a(r, p) at a time, so a column reads as well as a row.
struct ColumnRows {
    const float* a;
    int64_t ld;
    float operator()(int64_t r, int64_t p) const { return a[p * ld + r]; }
};

void tile_in_place(int64_t kc, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
                   bool accumulate, const float* bias) {
    if (a.col == 1)
        simd::register_tile(kc, simd::StridedRows{a.data, a.row}, b, c, ldc, accumulate, bias, ldb);
    else
        simd::register_tile(kc, ColumnRows{a.data, a.col}, b, c, ldc, accumulate, bias, ldb);
}

// A tile of fewer rows, R < MR, whole in columns: the last rows of c when MR does not divide M.
// ViT's 577 rows leave 1 on the 12 x 32 tile (and on 6 x 16): the full tile through the buffer
// below did 12 rows of arithmetic for it, 2% of the product. Each row's arithmetic is that of
// the full tile, so the result is the same.
using TileFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                        bool accumulate, const float* bias);
template <int R>
void tile_rows(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
               const float* bias) {
    simd::register_tile<simd::PackedRows, R, kNR>(kc, simd::PackedRows{a}, b, c, ldc, accumulate,
                                                  bias);
}
template <size_t... R>
constexpr std::array<TileFn, sizeof...(R)> row_tiles(std::index_sequence<R...>) {
    return {tile_rows<static_cast<int>(R) + 1>...};
}
constexpr std::array<TileFn, kMR - 1> kRowTiles = row_tiles(std::make_index_sequence<kMR - 1>());

void tile_edge(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
               const float* bias, int64_t m_valid, int64_t n_valid) {
    if (n_valid == kNR && m_valid < kMR) {
        kRowTiles[m_valid - 1](kc, a, b, c, ldc, accumulate, bias);
        return;
    }
    alignas(64) float buffer[kMR * kNR];
    tile(kc, a, b, buffer, kNR, false, nullptr);
    for (int64_t r = 0; r < m_valid; ++r)
        for (int64_t j = 0; j < n_valid; ++j) {
            float& dst = c[r * ldc + j];
            dst = accumulate ? dst + buffer[r * kNR + j] : buffer[r * kNR + j];
            if (bias) dst += bias[j];
        }
}

void pack_b(Strided b, int64_t N, int64_t p0, int64_t kc, int64_t jp0, int64_t jp1, float* panels) {
    const int64_t full_end = min64(jp1, N / kNR);  // micro-panels with all NR columns
    int64_t jp_rest = jp0;                         // the ones the general loop packs
    if (b.col == 1) {
        // Row-major b, the common case: kGroup micro-panels at a time, read row by row (kGroup
        // * NR floats side by side in b, 512 bytes on AVX-512) and dealt out NR floats at a
        // time to the kGroup micro-panels. All the micro-panels of a row at once (as before)
        // wrote to 72 places 16 KB apart for each row of qkv's b: they share the same few sets
        // of L1 and evict each other; 4 at a time packs qkv's b 4x as fast (Zen 5). memcpy of
        // a constant NR floats is whole vector moves (the plain loop stayed scalar: the
        // compiler cannot see that src and dst do not overlap).
        constexpr int64_t kGroup = 4;
        for (int64_t g = jp0; g < full_end; g += kGroup) {
            const int64_t g_end = min64(full_end, g + kGroup);
            for (int64_t p = 0; p < kc; ++p) {
                const float* src = b.data + (p0 + p) * b.row;
                for (int64_t jp = g; jp < g_end; ++jp)
                    std::memcpy(panels + (jp - jp0) * kc * kNR + p * kNR, src + jp * kNR,
                                kNR * sizeof(float));
            }
        }
        jp_rest = full_end > jp0 ? full_end : jp0;  // the ragged last micro-panel, if any
    }
#if defined(VITLAB_CPU_TRANSPOSE8)
    else if (b.row == 1) {
        // b is a transpose, W^T of a row-major W (x @ W^T in a Linear layer): b's columns are
        // W's rows, contiguous. Read 8 of them 8 floats at a time, transpose the 8 x 8 block
        // in registers, and store 8 floats per row p of the micro-panel.
        for (int64_t jp = jp0; jp < full_end; ++jp) {
            float* dst = panels + (jp - jp0) * kc * kNR;
            for (int64_t j = 0; j < kNR; j += 8) {
                const float* src = b.data + p0 + (jp * kNR + j) * b.col;
                int64_t p = 0;
                for (; p + 8 <= kc; p += 8)
                    simd::transpose8x8(src + p, b.col, dst + p * kNR + j, kNR);
                for (; p < kc; ++p)
                    for (int64_t jj = 0; jj < 8; ++jj) dst[p * kNR + j + jj] = src[jj * b.col + p];
            }
        }
        jp_rest = full_end > jp0 ? full_end : jp0;
    }
#endif
    for (int64_t jp = jp_rest; jp < jp1; ++jp) {
        float* dst = panels + (jp - jp0) * kc * kNR;
        const int64_t j0 = jp * kNR, nv = min64(kNR, N - j0);
        if (b.col <= b.row) {  // along rows of b
            for (int64_t p = 0; p < kc; ++p, dst += kNR) {
                const float* src = b.data + (p0 + p) * b.row + j0 * b.col;
                for (int64_t j = 0; j < nv; ++j) dst[j] = src[j * b.col];
                for (int64_t j = nv; j < kNR; ++j) dst[j] = 0.0f;
            }
        } else {  // b is a transpose (x @ W^T): walk each column of b, contiguous in memory
            for (int64_t j = 0; j < kNR; ++j) {
                const float* src = b.data + p0 * b.row + (j0 + j) * b.col;
                for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = j < nv ? src[p * b.row] : 0.0f;
            }
        }
    }
}

void pack_a(Strided a, int64_t i0, int64_t mc, int64_t i_end, int64_t p0, int64_t kc, float* dst) {
    if (a.row == 1 && a.col != 1) {
        // a transposed (a Linear's dW = dy^T @ x): column p of a is a row of dy, so the block
        // is read row by row of dy, front to back (one stream the prefetcher follows; a panel
        // at a time would jump a whole row of dy for every 12 floats), each row spread over
        // the micro-panels: micro-panel t starts at t * kc (t counted in rows).
        for (int64_t p = 0; p < kc; ++p) {
            const float* src = a.data + i0 + (p0 + p) * a.col;
            for (int64_t t = 0; t < mc; t += kMR) {
                const int64_t mv = min64(kMR, i_end - (i0 + t));
                float* d = dst + t * kc + p * kMR;
                for (int64_t r = 0; r < mv; ++r) d[r] = src[t + r];
                for (int64_t r = mv < 0 ? 0 : mv; r < kMR; ++r) d[r] = 0.0f;
            }
        }
        return;
    }
    for (int64_t t = 0; t < mc; t += kMR) {
        const int64_t mv = min64(kMR, i_end - (i0 + t));
        if (mv == kMR && a.col == 1) {  // row-major a: MR row pointers, each read front to back
            const float* rows[kMR];
            for (int64_t r = 0; r < kMR; ++r) rows[r] = a.data + (i0 + t + r) * a.row + p0;
            int64_t p = 0;
#if defined(VITLAB_CPU_AVX2)  // the 6 x 16 tile: kMR = 6
            // 8 columns of the 6 rows at a time: transpose (6 rows + 2 zero rows) in registers,
            // then store each column's 8 floats at dst + 6 j. The stores overlap: the two
            // zeros at the end of column j are overwritten by column j + 1. The last group of
            // a panel goes one float at a time below, so nothing is written past the panel
            // (threads may be packing the next one: see gemm_driver).
            for (; p + 8 < kc; p += 8, dst += 8 * kMR) {
                __m256 r[8];
#pragma GCC unroll 8
                for (int i = 0; i < 6; ++i) r[i] = _mm256_loadu_ps(rows[i] + p);
                r[6] = r[7] = _mm256_setzero_ps();
                simd::transpose8(r);
#pragma GCC unroll 8
                for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + j * kMR, r[j]);
            }
#elif defined(VITLAB_CPU_AVX512)  // the 12 x 32 tile: kMR = 12
            static_assert(kMR == 12, "two transposes of 8 rows: 8 + 4");
            // The same, 8 columns of the 12 rows at a time, as two 8 x 8 transposes: rows 0-7,
            // and rows 8-11 with 4 zero rows. Column j's 12 floats go to dst + 12 j: 8 from the
            // first, 4 from the second, so nothing is written twice or past the panel. One
            // float at a time (below), fc2's a (7 MB) took 0.77 ms to pack, now about 0.2 (Zen 5,
            // 1 thread).
            for (; p + 8 <= kc; p += 8, dst += 8 * kMR) {
                __m256 lo[8], hi[8];
#pragma GCC unroll 8
                for (int i = 0; i < 8; ++i) lo[i] = _mm256_loadu_ps(rows[i] + p);
#pragma GCC unroll 4
                for (int i = 0; i < 4; ++i) hi[i] = _mm256_loadu_ps(rows[8 + i] + p);
                hi[4] = hi[5] = hi[6] = hi[7] = _mm256_setzero_ps();
                simd::transpose8(lo);
                simd::transpose8(hi);
#pragma GCC unroll 8
                for (int j = 0; j < 8; ++j) {
                    _mm256_storeu_ps(dst + j * kMR, lo[j]);
                    _mm_storeu_ps(dst + j * kMR + 8, _mm256_castps256_ps128(hi[j]));
                }
            }
#endif
            for (; p < kc; ++p, dst += kMR)
                for (int64_t r = 0; r < kMR; ++r) dst[r] = rows[r][p];
            continue;
        }
        for (int64_t p = 0; p < kc; ++p, dst += kMR) {
            for (int64_t r = 0; r < mv; ++r) dst[r] = a(i0 + t + r, p0 + p);
            for (int64_t r = mv; r < kMR; ++r) dst[r] = 0.0f;
        }
    }
}

// ---- c = a^T @ b, both read in place (a Linear's dW = dy^T @ x) -------------------------------
// Row p of a block gives tn_mr floats of a (one row of dy, broadcast one at a time) and tn_nr of
// b (one row of x, whole registers). The tile needs out and in to be multiples of it only for
// full speed (tn_mr = 8 divides every ViT width; 12, the other tile's, does not divide 64).
#if defined(VITLAB_CPU_AVX512)
constexpr int kTnRows = 8, kTnCols = 32;  // 16 accumulators of the 32 registers
#else  // AVX2: 8 accumulators + 2 for b + 1 broadcast of 16; NEON: 16 + 4 of 32
constexpr int kTnRows = 4, kTnCols = 16;
#endif
// A b sliver, kc * tn_nr floats, is 16 KB: with the a sliver it stays in L1 while the tiles of
// one row of c read it.
constexpr int64_t kTnKC = 16384 / (kTnCols * 4);

void tile_tn(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc, bool accumulate) {
    simd::register_tile<ColumnRows, kTnRows, kTnCols>(kc, ColumnRows{a, lda}, b, c, ldc, accumulate,
                                                      nullptr, ldb);
}

void column_sums(int64_t rows, const float* a, int64_t lda, int64_t n, float* sums) {
    using namespace simd;
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes) {
        Vec s = splat(0.0f);
        for (int64_t p = 0; p < rows; ++p) s = add(s, load(a + p * lda + j));
        store(sums + j, s);
    }
    // The last columns, fewer than a register: row by row, so that they add side by side.
    const int64_t j0 = j;
    for (j = j0; j < n; ++j) sums[j] = 0.0f;
    for (int64_t p = 0; p < rows; ++p)
        for (j = j0; j < n; ++j) sums[j] += a[p * lda + j];
}

// ---- a wider tile for a and b read in place (dx = dy @ W) ------------------------------------
// With AVX-512, (6, 64): 24 accumulators, each row p costs 4 loads of b and 6 broadcasts of a for
// 24 multiply-adds (12 x 32: 2 + 12 for 24), and a row of a is read once for 64 columns of c.
// The 16 registers of AVX2 hold no wider tile than the 6 x 16 one.
#if defined(VITLAB_CPU_AVX512)
constexpr int kWideRows = 6, kWideCols = 64;

void tile_wide(int64_t kc, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
               bool accumulate, const float* bias) {
    simd::register_tile<simd::StridedRows, kWideRows, kWideCols>(
        kc, simd::StridedRows{a.data, a.row}, b, c, ldc, accumulate, bias, ldb);
}
#else
constexpr int kWideRows = 0, kWideCols = 0;
constexpr auto tile_wide = nullptr;
#endif

// Enough independent chains to keep every FMA unit busy whatever its latency.
float fma_chains(int64_t steps) {
    using namespace simd;
    Vec acc[kFmaChains];  // local: kept in registers
#pragma GCC unroll 12
    for (int c = 0; c < kFmaChains; ++c) acc[c] = splat(0.001f * c);
    const Vec a = splat(0.9999f), b = splat(1e-4f);
    for (int64_t i = 0; i < steps; ++i)
#pragma GCC unroll 12
        for (int c = 0; c < kFmaChains; ++c) acc[c] = fmadd(acc[c], a, b);
    float sum = 0.0f;
    for (int c = 0; c < kFmaChains; ++c) sum += sum_lanes(acc[c]);
    return sum;
}

}  // namespace

const MatmulKernels matmul_kernels = {
    kMR,       kNR,       kKC,       kMC,          tile,      tile_edge, tile_in_place,
    pack_a,    pack_b,    kTnRows,   kTnCols,      kTnKC,     tile_tn,   column_sums,
    kWideRows, kWideCols, tile_wide, simd::kLanes, fma_chains};

}  // namespace vitlab::cpu::VITLAB_CPU_NS
