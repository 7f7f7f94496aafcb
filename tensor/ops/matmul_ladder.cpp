// matmul_ladder.cpp: five versions of c = a @ b, from the formula to the fast kernel.
//
// a (M, K), b (K, N), c (M, N), all row-major here. Each version adds one idea, and
// build/bench/bench_matmul runs every rung on the ViT-B shapes (the README's Performance
// section keeps the measured GFLOP/s, with the CPU they were measured on). Rungs 1-4 are
// compiled for the baseline x86-64 (SSE2), like the whole library (see tensor/cpu/isa.h):
//   1. ijk:            each step of the inner loop loads b[p][j] from a new cache line
//   2. ikj:            the inner loop streams rows of b and c: unit stride, so the compiler
//                      vectorises it; one order of magnitude or more over ijk
//   3. cache_blocked:  b is reused from L2 rather than L3. When b already fits in the last-level
//                      cache (ViT-B's do, on a server CPU), the extra loops cost about what the
//                      reuse saves: it pays on small caches
//   4. packed:         panels read with unit stride; a 4 x 8 tile of c kept in registers
//   5. blocked:        the register tile sized to the CPU's widest registers (12 x 32 with
//                      AVX-512), blocks tuned to L1/L2/L3, threads (matmul_blocked.cpp): close
//                      to the core's FMA peak
// Rungs 1-3 are plain C++; rung 4 uses the GCC/Clang vector extension (no intrinsics).
// All four run on one thread.
#include "tensor/ops/matmul_ladder.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/ops/matmul_internal.h"

namespace vitlab {

namespace {

// The shared start of every rung: check the shapes, make a and b row-major (a copy only when
// they are not), and handle the empty cases. Returns false when there is nothing to compute.
struct Operands {
    Tensor a, b;
    int64_t M, K, N;
};
bool prepare(const char* op, const Tensor& a, const Tensor& b, Tensor& c, Operands& out) {
    detail::check_gemm_args(op, a, b, c);
    out = Operands{a.contiguous(), b.contiguous(), a.size(0), a.size(1), b.size(1)};
    if (out.M == 0 || out.N == 0) return false;
    if (out.K == 0) {
        c.fill_(0.0f);
        return false;
    }
    return true;
}

// c_row[0 .. n) += s * b_row[0 .. n). __restrict promises that the rows do not overlap, and
// the fixed-length inner loop of 8 lets GCC vectorise at -O2 (its cheapest cost model will
// not vectorise a loop of unknown length).
void add_scaled_row(float* __restrict c_row, float s, const float* __restrict b_row, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int64_t v = 0; v < 8; ++v) c_row[j + v] += s * b_row[j + v];
    for (; j < n; ++j) c_row[j] += s * b_row[j];
}

}  // namespace

// ---- 1. ijk: the formula ------------------------------------------------------------------
void gemm_ijk(const Tensor& a, const Tensor& b, Tensor& c) {
    Operands o;
    if (!prepare("gemm_ijk", a, b, c, o)) return;
    const float *A = o.a.data(), *B = o.b.data();
    float* C = c.data();
    for (int64_t i = 0; i < o.M; ++i)
        for (int64_t j = 0; j < o.N; ++j) {
            float sum = 0.0f;
            for (int64_t p = 0; p < o.K; ++p) sum += A[i * o.K + p] * B[p * o.N + j];
            C[i * o.N + j] = sum;
        }
}

// ---- 2. ikj: the same sums, loops reordered ------------------------------------------------
// c[i][:] = sum_p a[i][p] * b[p][:]: a row of c is a sum of rows of b, so the inner loop walks
// b and c with unit stride (whole cache lines used, and the compiler emits SIMD).
void gemm_ikj(const Tensor& a, const Tensor& b, Tensor& c) {
    Operands o;
    if (!prepare("gemm_ikj", a, b, c, o)) return;
    const float *A = o.a.data(), *B = o.b.data();
    float* C = c.data();
    std::fill(C, C + o.M * o.N, 0.0f);
    for (int64_t i = 0; i < o.M; ++i)
        for (int64_t p = 0; p < o.K; ++p) {
            const float aip = A[i * o.K + p];
            add_scaled_row(C + i * o.N, aip, B + p * o.N, o.N);
        }
}

// ---- 3. cache blocked: ikj on blocks of b that fit in L2 -----------------------------------
// In ikj every row of a sweeps all of b (K * N floats, megabytes): b comes from memory M
// times. Here b is cut into (KB, NB) blocks of 128 KB; all M rows of a use one block while it
// sits in the L2 cache, so b is read from memory once.
void gemm_cache_blocked(const Tensor& a, const Tensor& b, Tensor& c) {
    Operands o;
    if (!prepare("gemm_cache_blocked", a, b, c, o)) return;
    constexpr int64_t KB = 128, NB = 256;  // 128 * 256 floats = 128 KB
    const float *A = o.a.data(), *B = o.b.data();
    float* C = c.data();
    std::fill(C, C + o.M * o.N, 0.0f);
    for (int64_t j0 = 0; j0 < o.N; j0 += NB) {
        const int64_t j1 = std::min(o.N, j0 + NB);
        for (int64_t p0 = 0; p0 < o.K; p0 += KB) {
            const int64_t p1 = std::min(o.K, p0 + KB);
            for (int64_t i = 0; i < o.M; ++i)
                for (int64_t p = p0; p < p1; ++p) {
                    add_scaled_row(C + i * o.N + j0, A[i * o.K + p], B + p * o.N + j0, j1 - j0);
                }
        }
    }
}

// ---- 4. packed + micro-kernel: a register tile of c ----------------------------------------
// In rung 3 every multiply-add still loads and stores c[i][j]. Here a 4 x 8 tile of c is
// summed in a local array over a whole block of K (the compiler keeps it in registers), so
// each step p loads 8 floats of b and 4 of a for 32 multiply-adds. To make those loads unit
// stride, a and b are first copied ("packed") in the order the tile reads them:
//   b block (KC, N)  -> panels of 8 columns,  b[p][j] at p * 8 + j
//   a block (MC, KC) -> panels of 4 rows,     a[r][p] at p * 4 + r
// Ragged edges are zero-padded; the tile is then cut to fit c. matmul_blocked.cpp is the same
// plan with an intrinsics micro-kernel sized to the register file, and threads.
namespace {
constexpr int64_t kTileM = 4, kTileN = 8, kKC = 256, kMC = 64;

// Four floats that the compiler keeps in one SIMD register (GCC / Clang vector extension):
// the width every x86-64 (SSE) and 64-bit ARM (NEON) CPU has, since the library is compiled
// for the baseline CPU. acc is 8 of them, b 2: all in the 16 registers.
typedef float Float4 __attribute__((vector_size(16)));

void tile_4x8(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t mv,
              int64_t nv) {
    Float4 acc[kTileM][2] = {};
    for (int64_t p = 0; p < kc; ++p, a += kTileM, b += kTileN) {
        Float4 b0, b1;
        std::memcpy(&b0, b, sizeof b0);  // memcpy: b is not 16-byte aligned
        std::memcpy(&b1, b + 4, sizeof b1);
#pragma GCC unroll 4  // unrolled, acc[r] are 8 named registers instead of an array in memory
        for (int64_t r = 0; r < kTileM; ++r) {
            acc[r][0] += a[r] * b0;
            acc[r][1] += a[r] * b1;
        }
    }
    float tile[kTileM][kTileN];
    std::memcpy(tile, acc, sizeof tile);
    for (int64_t r = 0; r < mv; ++r)
        for (int64_t j = 0; j < nv; ++j) c[r * ldc + j] += tile[r][j];
}
}  // namespace

void gemm_packed(const Tensor& a, const Tensor& b, Tensor& c) {
    Operands o;
    if (!prepare("gemm_packed", a, b, c, o)) return;
    const float *A = o.a.data(), *B = o.b.data();
    float* C = c.data();
    std::fill(C, C + o.M * o.N, 0.0f);
    const int64_t panels = (o.N + kTileN - 1) / kTileN;
    std::vector<float> b_pack(kKC * panels * kTileN), a_pack(kMC * kKC);
    for (int64_t p0 = 0; p0 < o.K; p0 += kKC) {
        const int64_t kc = std::min(kKC, o.K - p0);
        for (int64_t jp = 0; jp < panels; ++jp)  // pack b rows [p0, p0 + kc)
            for (int64_t p = 0; p < kc; ++p)
                for (int64_t j = 0; j < kTileN; ++j) {
                    const int64_t col = jp * kTileN + j;
                    b_pack[(jp * kc + p) * kTileN + j] = col < o.N ? B[(p0 + p) * o.N + col] : 0;
                }
        for (int64_t i0 = 0; i0 < o.M; i0 += kMC) {
            const int64_t mc = std::min(kMC, o.M - i0);
            for (int64_t t = 0; t < mc; t += kTileM)  // pack a rows [i0, i0 + mc)
                for (int64_t p = 0; p < kc; ++p)
                    for (int64_t r = 0; r < kTileM; ++r) {
                        const int64_t row = i0 + t + r;
                        a_pack[(t * kc) + p * kTileM + r] =
                            row < i0 + mc ? A[row * o.K + p0 + p] : 0;
                    }
            for (int64_t jp = 0; jp < panels; ++jp)
                for (int64_t t = 0; t < mc; t += kTileM)
                    tile_4x8(kc, &a_pack[t * kc], &b_pack[jp * kc * kTileN],
                             C + (i0 + t) * o.N + jp * kTileN, o.N, std::min(kTileM, mc - t),
                             std::min(kTileN, o.N - jp * kTileN));
        }
    }
}

// ---- the ladder ------------------------------------------------------------------------------
const std::vector<MatmulRung>& matmul_ladder() {
    static const std::vector<MatmulRung> rungs = {
        {"ijk", "the formula, three loops", gemm_ijk},
        {"ikj", "loops reordered: unit-stride inner loop over rows of b and c", gemm_ikj},
        {"cache_blocked", "blocks of b reused from L2 by all rows of a", gemm_cache_blocked},
        {"packed", "packed panels, a 4 x 8 tile of c in registers", gemm_packed},
        {"blocked", "SIMD micro-kernel, L1/L2/L3 blocks, threads", gemm_blocked},
    };
    return rungs;
}

}  // namespace vitlab
