// matmul_blocked.cpp: a fast c = a @ b, built the way GotoBLAS and BLIS build theirs.
//
// Read matmul_naive.cpp first: its inner loop does two loads per multiply-add and walks b
// down a column. Here a small tile of c stays in registers for a whole run over K, and a and
// b are first copied ("packed") into exactly the order that run reads them, in blocks sized
// to stay in the caches. a (M, K), b (K, N), c (M, N); five loops, outermost first:
//
//   loop 5  for jc in [0, N) step NC                b panel        (KC, NC)  stays in L3
//   loop 4    for pc in [0, K) step KC              pack b panel (unless b came packed)
//   loop 3      for ic in [0, M) step MC            pack a block   (MC, KC)  stays in L2
//   loop 2        for jr in [jc, jc + NC) step NR     b micro-panel (KC, NR)  stays in L1
//   loop 1          for ir in [ic, ic + MC) step MR     a micro-panel (MR, KC) comes from L2
//                     micro-kernel: c tile (MR, NR) += a micro-panel @ b micro-panel
//
//                                  NR
//                              +--------+
//                              | b      |  KC     read from L1 by MC / MR micro-kernels
//                              | micro- |
//                              | panel  |
//                KC            +--------+
//        +-----------------+   +--------+
//     MR | a micro-panel   |   | c tile |  MR     MR x NR accumulators in registers, c is
//        +-----------------+   +--------+         read and written once per KC
//
// One step p of the micro-kernel: load b[p][0 .. NR) into NR / L registers (L floats per
// register), then for each row r broadcast a[r][p] and do NR / L fused multiply-adds into
// row r's accumulators: MR * NR / L multiply-adds for NR / L + MR loads.
//   AVX-512 (L = 16): 12 x 32 tile, 24 accumulators + 2 for b of the 32 registers
//   AVX2    (L = 8):   6 x 16 tile, 12 accumulators + 2 for b + 1 broadcast of 16
//   NEON    (L = 4):   8 x 12 tile, 24 accumulators + 3 for b of 32
//   portable:          8 x 8 tile of plain floats; the compiler vectorises the j loop
//
// Packing: an a block becomes MR-row micro-panels stored k-major (a[r][p] at p * MR + r); b
// becomes NR-column micro-panels, also k-major (b[p][j] at p * NR + j), so the micro-kernel
// reads both with unit stride. The packers read a and b through their strides, so transposed
// or sliced inputs need no copy, and they pad ragged last rows / columns with zeros, so the
// micro-kernel always computes a whole tile (one cut by the edge of c goes through a buffer).
// b is packed one (KC, NC) panel at a time into a per-thread buffer that the L3 holds, and
// then read from there by every a block; or it is packed once, completely, by pack_b() into a
// PackedB (same layout), which a layer reuses for every call with the same weight.
// NC is all of a thread's columns: for ViT-B's N <= 3072 a (KC, N) panel is at most 3 MB.
//
// Threads: one parallel_for per product. Each thread owns a band of whole c tiles, rows (MR at
// a time) or columns (NR at a time), and runs all five loops on it, packing what it reads; a
// tile's operations are the same whichever thread computes it, so 1 or 2 threads give
// bit-identical results. A row split makes every thread pack all of b, a column split all of
// a, so the split is chosen to duplicate the smaller one (rows for a prepacked b). A large a
// (up to 4 MB) under a column split is instead packed once, by all threads together, before
// the products.
//
// Measured on one Zen 3 core (AVX2): ~100 GFLOP/s on ViT-B's (577, 768) @ (768, 3072), about
// OpenBLAS's speed and 98% of the core's peak (bench/bench_matmul.cpp prints all three).
// matmul_ladder.cpp has the steps from the naive loops to this file, each runnable.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>

#include "tensor/ops/matmul.h"
#include "tensor/ops/simd_transpose.h"
#include "tensor/parallel/thread_pool.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

// GCC 12's AVX-512 headers trip its own -Wmaybe-uninitialized (GCC bug 105593, fixed in 13).
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace vitlab {

namespace detail {
// Checks a (m, k), b (k, n) and c (m, n), contiguous and separate (in matmul.cpp).
void check_gemm_args(const char* op, const Tensor& a, const Tensor& b, const Tensor& c);
// c (m, n) = bias on every row, or 0 if bias is null: a product with k = 0 (in matmul.cpp).
void fill_rows(Tensor& c, const float* bias);
}  // namespace detail

namespace {

// ---- the register tile and one register of floats, per instruction set ------------------
// kMR x kNR is the c tile the micro-kernel keeps in registers; kNR is a multiple of kLanes.
// clang-format off
#if defined(__AVX512F__)

using Vec = __m512;
constexpr int64_t kLanes = 16, kMR = 12, kNR = 32;
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec zero() { return _mm512_setzero_ps(); }
inline Vec splat(float s) { return _mm512_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c

#elif defined(__AVX2__) && defined(__FMA__)

using Vec = __m256;
constexpr int64_t kLanes = 8, kMR = 6, kNR = 16;  // 12 accumulators of the 16 registers
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec splat(float s) { return _mm256_set1_ps(s); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }

#elif defined(__ARM_NEON)

using Vec = float32x4_t;
constexpr int64_t kLanes = 4, kMR = 8, kNR = 12;  // 24 accumulators of the 32 registers
inline Vec load(const float* p) { return vld1q_f32(p); }
inline void store(float* p, Vec v) { vst1q_f32(p, v); }
inline Vec zero() { return vdupq_n_f32(0.0f); }
inline Vec splat(float s) { return vdupq_n_f32(s); }
inline Vec add(Vec a, Vec b) { return vaddq_f32(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return vfmaq_f32(c, a, b); }

#else

// Portable: plain loops over a float tile, which compilers turn into SSE/NEON by themselves.
constexpr int64_t kMR = 8, kNR = 8;

#endif
// clang-format on

// Cache blocks (see the drawing), for a core with 32 KB of L1 and 512 KB or more of L2:
//   KC: a b micro-panel, KC * NR floats, takes 16 KB, half of L1 (the other half streams a).
//   MC: an a block, MC * KC floats, is 144 KB on AVX2, a fraction of L2.
//   NC: all of N. A b block, KC * N floats, is 3 MB for N = 3072, which the L3 holds.
// To try other sizes: make CXXFLAGS='-DVITLAB_MC_TILES=16 -DVITLAB_KC_BYTES=24576' bench
// (MC in micro-panels of MR rows; KC from the bytes of one b micro-panel).
#ifndef VITLAB_MC_TILES
#define VITLAB_MC_TILES 24
#endif
#ifndef VITLAB_KC_BYTES
#define VITLAB_KC_BYTES 16384
#endif
constexpr int64_t kKC = VITLAB_KC_BYTES / (kNR * 4);
constexpr int64_t kMC = VITLAB_MC_TILES * kMR;
// Products smaller than this many multiply-adds run on one thread: waking the pool costs
// more than they take.
constexpr int64_t kMinParallelWork = 64 * 64 * 64;
// An a of this many floats and up is packed once by all threads together (gemm_driver), up
// to kMaxSharedPack: the shared copy of a larger a (ViT-B's fc2: 7 MB) would raise the peak
// memory of a forward by its size, for a gain of under 1%.
constexpr int64_t kMinSharedPack = 1 << 16, kMaxSharedPack = 1 << 20;

// ---- the micro-kernel ---------------------------------------------------------------------
// c (kMR, kNR), rows ldc apart, gets (accumulate ? c : 0) + a_panel @ b_panel, where
// a_panel is (kMR, kc) stored k-major and b_panel is (kc, kNR); then, if bias is not null
// (the last block of K of a Linear layer), + bias[j] on every row, while c is in registers.
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__)) || defined(__ARM_NEON)

void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                  bool accumulate, const float* bias) {
    constexpr int kVecs = kNR / kLanes;
    // Ask for the c tile now, so that it has arrived from L2 / L3 by the end of the K loop.
    for (int r = 0; r < kMR; ++r) {
        __builtin_prefetch(c + r * ldc, 1);
        __builtin_prefetch(c + r * ldc + kNR - 1, 1);
    }
    Vec acc[kMR][kVecs];
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) acc[r][v] = zero();

    for (int64_t p = 0; p < kc; ++p, a += kMR, b += kNR) {
        Vec bv[kVecs];
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) bv[v] = load(b + v * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < kMR; ++r) {
            const Vec ar = splat(a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < kVecs; ++v) acc[r][v] = fmadd(ar, bv[v], acc[r][v]);
        }
    }

    Vec bias_v[kVecs];
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) bias_v[v] = bias ? load(bias + v * kLanes) : zero();
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) {
            float* dst = c + r * ldc + v * kLanes;
            Vec sum = accumulate ? add(load(dst), acc[r][v]) : acc[r][v];
            if (bias) sum = add(sum, bias_v[v]);  // the same roundings as c += bias afterwards
            store(dst, sum);
        }
}

#else

void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                  bool accumulate, const float* bias) {
    float acc[kMR][kNR] = {};
    for (int64_t p = 0; p < kc; ++p, a += kMR, b += kNR)
        for (int r = 0; r < kMR; ++r)
            for (int j = 0; j < kNR; ++j) acc[r][j] += a[r] * b[j];
    for (int r = 0; r < kMR; ++r)
        for (int j = 0; j < kNR; ++j) {
            const float sum = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
            c[r * ldc + j] = bias ? sum + bias[j] : sum;
        }
}

#endif

// The same for a tile cut short by the edge of c: only rows < m_valid and columns < n_valid
// exist. The full tile is computed into a buffer and the valid part copied out.
void micro_kernel_edge(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                       bool accumulate, const float* bias, int64_t m_valid, int64_t n_valid) {
    alignas(64) float tile[kMR * kNR];
    micro_kernel(kc, a, b, tile, kNR, false, nullptr);
    for (int64_t r = 0; r < m_valid; ++r)
        for (int64_t j = 0; j < n_valid; ++j) {
            float& dst = c[r * ldc + j];
            dst = accumulate ? dst + tile[r * kNR + j] : tile[r * kNR + j];
            if (bias) dst += bias[j];
        }
}

// ---- packing ------------------------------------------------------------------------------

// A float array aligned to a cache line (64 bytes), so vector loads never straddle two lines.
// Kept per thread between calls: fresh megabytes on every call would cost page faults.
class FloatBuffer {
  public:
    FloatBuffer() = default;
    FloatBuffer(const FloatBuffer&) = delete;
    FloatBuffer& operator=(const FloatBuffer&) = delete;
    ~FloatBuffer() { release(); }
    // At least n floats; old contents are not kept.
    float* reserve(int64_t n) {
        if (n > size_) {
            release();
            data_ = static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64)));
            size_ = n;
        }
        return data_;
    }

  private:
    void release() {
        if (data_) ::operator delete(data_, std::align_val_t(64));
        data_ = nullptr;
        size_ = 0;
    }
    float* data_ = nullptr;
    int64_t size_ = 0;
};

// A matrix operand as the packers see it: element (i, j) at data[i * row + j * col].
struct Strided {
    const float* data;
    int64_t row, col;
    float operator()(int64_t i, int64_t j) const { return data[i * row + j * col]; }
};

int64_t panels_of(int64_t N) {
    return (N + kNR - 1) / kNR;
}

// The layout of a packed b (K, N), the same whether packed once (PackedB) or block by block:
// for each block of KC rows starting at row p0, ceil(N / NR) micro-panels, one after the
// other; micro-panel jp holds b[p0 + p][jp * NR + j] at p * NR + j, zero past column N.
// So a block starts at p0 * panels * NR, and its micro-panel jp at jp * kc * NR inside it.
// This packs rows [p0, p0 + kc) of micro-panels [jp0, jp1), the first one at `dst`.
void pack_b_block(Strided b, int64_t N, int64_t p0, int64_t kc, int64_t jp0, int64_t jp1,
                  float* panels) {
    const int64_t full_end = std::min(jp1, N / kNR);  // micro-panels with all NR columns
    int64_t jp_rest = jp0;                            // the ones the general loop packs
    if (b.col == 1) {
        // Row-major b, the common case: read each row of b once, front to back, and deal
        // it out NR floats at a time (one cache line on AVX2) to the micro-panels.
        for (int64_t p = 0; p < kc; ++p) {
            const float* src = b.data + (p0 + p) * b.row;
            for (int64_t jp = jp0; jp < full_end; ++jp) {
                float* dst = panels + (jp - jp0) * kc * kNR + p * kNR;
                for (int64_t j = 0; j < kNR; ++j) dst[j] = src[jp * kNR + j];
            }
        }
        jp_rest = std::max(jp0, full_end);  // the ragged last micro-panel, if any, below
    }
#if defined(__AVX2__)
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
        jp_rest = std::max(jp0, full_end);
    }
#endif
    for (int64_t jp = jp_rest; jp < jp1; ++jp) {
        float* dst = panels + (jp - jp0) * kc * kNR;
        const int64_t j0 = jp * kNR, nv = std::min(kNR, N - j0);
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

// Packs rows [i0, i0 + mc) and columns [p0, p0 + kc) of a into MR-row micro-panels:
// micro-panel t holds a[i0 + t * MR + r][p0 + p] at t * MR * kc + p * MR + r; rows past
// i_end are zero.
void pack_a(Strided a, int64_t i0, int64_t mc, int64_t i_end, int64_t p0, int64_t kc, float* dst) {
    for (int64_t t = 0; t < mc; t += kMR) {
        const int64_t mv = std::min(kMR, i_end - (i0 + t));
        if (mv == kMR && a.col == 1) {  // row-major a: MR row pointers, each read front to back
            const float* rows[kMR];
            for (int64_t r = 0; r < kMR; ++r) rows[r] = a.data + (i0 + t + r) * a.row + p0;
            int64_t p = 0;
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)  // the 6 x 16 tile: kMR = 6
            // 8 columns of the 6 rows at a time: transpose (6 rows + 2 zero rows) in registers,
            // then store each column's 8 floats at dst + 6 j. The stores overlap: the two
            // zeros at the end of column j are overwritten by column j + 1. The last group of
            // a panel goes one float at a time below, so nothing is written past the panel
            // (threads may be packing the next one: see gemm_driver).
            for (; p + 8 < kc; p += 8, dst += 8 * kMR) {
                __m256 r[8];
                for (int i = 0; i < 6; ++i) r[i] = _mm256_loadu_ps(rows[i] + p);
                r[6] = r[7] = _mm256_setzero_ps();
                simd::transpose8(r);
                for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + j * kMR, r[j]);
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

// ---- the loops around the micro-kernel ----------------------------------------------------

// All of a packed at once (see gemm_driver), or data == nullptr: each block of a is packed
// when it is used. Block pc of KC columns starts at pc * m_pad, and its micro-panel of rows
// i .. i + MR at i * kc inside it, as pack_a lays them out.
struct APacked {
    const float* data = nullptr;
    int64_t m_pad = 0;  // rows, rounded up to whole micro-panels
};

// c rows [m0, m1) x micro-panels [jp0, jp1) (of NR columns) (+)= a[:, pc : pc + kc] @ those
// micro-panels of b, packed for rows [pc, pc + kc), the first at b_panels (loops 3, 2, 1);
// + bias (N floats) if not null.
void multiply_block(Strided a, const APacked& a_packed, const float* b_panels, int64_t N,
                    int64_t pc, int64_t kc, bool accumulate, const float* bias, float* c,
                    int64_t m0, int64_t m1, int64_t jp0, int64_t jp1) {
    static thread_local FloatBuffer a_buffer;
    const float* a_pack = nullptr;
    for (int64_t ic = m0; ic < m1; ic += kMC) {  // loop 3
        const int64_t mc = std::min(kMC, m1 - ic);
        if (a_packed.data) {
            a_pack = a_packed.data + pc * a_packed.m_pad + ic * kc;  // packed by gemm_driver
        } else {
            float* dst = a_buffer.reserve(kMC * kKC);
            pack_a(a, ic, mc, m1, pc, kc, dst);
            a_pack = dst;
        }
        for (int64_t jp = jp0; jp < jp1; ++jp) {  // loop 2
            const float* b_panel = b_panels + (jp - jp0) * kc * kNR;
            const int64_t j0 = jp * kNR, nv = std::min(kNR, N - j0);
            for (int64_t ir = 0; ir < mc; ir += kMR) {  // loop 1
                const float* a_panel = a_pack + ir * kc;
                float* c_tile = c + (ic + ir) * N + j0;
                const int64_t mv = std::min(kMR, mc - ir);
                const float* tile_bias = bias ? bias + j0 : nullptr;
                if (mv == kMR && nv == kNR)
                    micro_kernel(kc, a_panel, b_panel, c_tile, N, accumulate, tile_bias);
                else
                    micro_kernel_edge(kc, a_panel, b_panel, c_tile, N, accumulate, tile_bias, mv,
                                      nv);
            }
        }
    }
}

// One thread's share: c rows [m0, m1) x micro-panels [jp0, jp1) = a @ b (+ bias) over all
// of K (loop 4 and below); the bias is added with the last block of K. b is either packed already
// (`packed`, the layout above) or packed here, one block of KC rows at a time, into a per-thread
// buffer. Loop 5 (NC) is all of the thread's columns: a (KC, N) block of b is at most a few MB,
// which the L3 holds.
void gemm_part(Strided a, const APacked& a_packed, int64_t K, int64_t N, const float* packed,
               Strided b, const float* bias, float* c, int64_t m0, int64_t m1, int64_t jp0,
               int64_t jp1) {
    const int64_t panels = panels_of(N);
    static thread_local FloatBuffer b_buffer;
    float* b_pack = packed ? nullptr : b_buffer.reserve(std::min(kKC, K) * (jp1 - jp0) * kNR);
    for (int64_t pc = 0; pc < K; pc += kKC) {  // loop 4
        const int64_t kc = std::min(kKC, K - pc);
        const float* b_panels;
        if (packed) {
            b_panels = packed + pc * panels * kNR + jp0 * kc * kNR;
        } else {
            pack_b_block(b, N, pc, kc, jp0, jp1, b_pack);
            b_panels = b_pack;
        }
        const bool accumulate = pc > 0;  // the first block of K overwrites c
        const float* block_bias = pc + kc == K ? bias : nullptr;
        multiply_block(a, a_packed, b_panels, N, pc, kc, accumulate, block_bias, c, m0, m1, jp0,
                       jp1);
    }
}

bool worth_threads(int64_t M, int64_t N, int64_t K) {
    return M * N * K >= kMinParallelWork && get_num_threads() > 1;
}

// c (M, N) = a (M, K) @ b (K, N), b packed already or not (see gemm_part).
// Threads: one parallel_for per product, each thread owning a band of whole c tiles, either
// rows (MR at a time) or columns (NR at a time). Splitting at tile boundaries keeps every
// tile's arithmetic the same, so 1 and 2 threads give bit-identical results. A thread packs
// what it reads, so a row split packs all of b in each thread (unless b came packed) and a
// column split all of a: split so that the operand packed twice is the smaller one (and a
// large a is packed once, shared, below).
void gemm_driver(Strided a, int64_t M, int64_t K, int64_t N, const float* packed, Strided b,
                 const float* bias, float* c) {
    const int64_t panels = panels_of(N), row_tiles = (M + kMR - 1) / kMR;
    const int threads = worth_threads(M, N, K) ? get_num_threads() : 1;
    bool split_rows = packed ? row_tiles >= threads : M >= N;
    if (split_rows && row_tiles < threads && panels >= threads) split_rows = false;
    if (!split_rows && panels < threads && row_tiles >= threads) split_rows = true;
    // A column split would have every thread pack all of a; instead they first pack it
    // together, each its share of the row micro-panels, into one buffer that all then read.
    // The packed values are the same, so the result keeps its bits.
    APacked a_packed;
    Tensor a_buffer;
    if (threads > 1 && !split_rows && M * K >= kMinSharedPack && M * K <= kMaxSharedPack) {
        a_packed.m_pad = row_tiles * kMR;
        a_buffer = empty({a_packed.m_pad * K});  // large blocks are reused (tensor.cpp)
        float* dst = a_buffer.data();
        parallel_for(0, row_tiles, [&](int64_t t0, int64_t t1) {
            for (int64_t pc = 0; pc < K; pc += kKC) {
                const int64_t kc = std::min(kKC, K - pc);
                pack_a(a, t0 * kMR, (t1 - t0) * kMR, M, pc, kc,
                       dst + pc * a_packed.m_pad + t0 * kMR * kc);
            }
        });
        a_packed.data = dst;
    }
    auto work = [&](int64_t t0, int64_t t1) {
        if (split_rows)
            gemm_part(a, APacked(), K, N, packed, b, bias, c, t0 * kMR, std::min(M, t1 * kMR), 0,
                      panels);
        else
            gemm_part(a, a_packed, K, N, packed, b, bias, c, 0, M, t0, t1);
    };
    const int64_t tiles = split_rows ? row_tiles : panels;
    if (threads > 1)
        parallel_for(0, tiles, work);
    else
        work(0, tiles);
}

Strided strided_of(const Tensor& t) {
    return Strided{t.data(), t.stride(0), t.stride(1)};
}

}  // namespace

void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c, const float* bias) {
    detail::check_gemm_args("gemm_blocked", a, b, c);
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    if (M == 0 || N == 0) return;
    if (K == 0) {  // a sum of nothing
        detail::fill_rows(c, bias);
        return;
    }
    gemm_driver(strided_of(a), M, K, N, nullptr, strided_of(b), bias, c.data());
}

PackedB pack_b(const Tensor& b) {
    if (b.dim() != 2)
        throw ShapeError("pack_b: expected a 2-d b (K, N), got " + to_string(b.shape()));
    const int64_t K = b.size(0), N = b.size(1), panels = panels_of(N);
    const int64_t n = std::max<int64_t>(1, K * panels * kNR);
    std::shared_ptr<float> data(
        static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64))),
        [](float* p) { ::operator delete(p, std::align_val_t(64)); });
    const Strided bs = strided_of(b);
    const bool threads = get_num_threads() > 1 && K * N >= 64 * 64;
    for (int64_t pc = 0; pc < K; pc += kKC) {
        const int64_t kc = std::min(kKC, K - pc);
        float* block = data.get() + pc * panels * kNR;
        auto pack = [&](int64_t jp0, int64_t jp1) {
            pack_b_block(bs, N, pc, kc, jp0, jp1, block + jp0 * kc * kNR);
        };
        threads ? parallel_for(0, panels, pack) : pack(0, panels);
    }
    return PackedB{K, N, std::move(data)};
}

void gemm_blocked(const Tensor& a, const PackedB& b, Tensor& c, const float* bias) {
    const Shape b_shape{b.K, b.N};
    if (a.dim() != 2 || a.size(1) != b.K)
        throw ShapeError("gemm_blocked: cannot multiply " + to_string(a.shape()) + " by packed " +
                         to_string(b_shape));
    const Shape want{a.size(0), b.N};
    if (c.shape() != want)
        throw ShapeError("gemm_blocked: c has shape " + to_string(c.shape()) + ", expected " +
                         to_string(want) + " for " + to_string(a.shape()) + " @ packed " +
                         to_string(b_shape));
    if (!c.is_contiguous()) throw std::invalid_argument("gemm_blocked: c must be contiguous");
    if (c.numel() > 0 && c.shares_storage_with(a))
        throw std::invalid_argument("gemm_blocked: c must not share storage with a");
    const int64_t M = a.size(0), K = b.K, N = b.N;
    if (M == 0 || N == 0) return;
    if (K == 0) {
        detail::fill_rows(c, bias);
        return;
    }
    if (b.empty()) throw std::invalid_argument("gemm_blocked: the PackedB holds no panels");
    gemm_driver(strided_of(a), M, K, N, b.panels.get(), Strided{nullptr, 0, 0}, bias, c.data());
}

}  // namespace vitlab
