// matmul_blocked.cpp: a fast c = a @ b, built the way GotoBLAS and BLIS build theirs.
//
// Read matmul_naive.cpp first: its inner loop does two loads per multiply-add and walks b
// down a column. Here a small tile of c stays in registers for a whole run over K, and a and
// b are first copied ("packed") into exactly the order that run reads them, in blocks sized
// to stay in the caches. a (M, K), b (K, N), c (M, N); five loops, outermost first:
//
//   loop 5  for jc in [0, N) step NC                b panel        (KC, NC)  stays in L3
//   loop 4    for pc in [0, K) step KC
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
// b is packed completely, up front, by pack_b() into a PackedB, so that a layer could pack its
// weight once and reuse it; a is packed one (MC, KC) block at a time into a per-thread buffer.
//
// Threads: every c tile is computed by one thread, and the split never changes the order of
// its operations, so 1 or 2 threads give bit-identical results. The tiles are shared out
// along M (bands of MR rows) or N (bands of NR columns), whichever has more of them.
#include <algorithm>
#include <cstdint>
#include <new>

#include "tensor/ops/matmul.h"
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
//   MC: an a block, MC * KC floats, is 96 KB on AVX2 and AVX-512, a fraction of L2.
//   NC: a b panel, KC * NC floats, is 2 MB, which a shared L3 holds.
constexpr int64_t kKC = 16 * 1024 / (kNR * 4);
constexpr int64_t kMC = 16 * kMR;
constexpr int64_t kNC = 128 * kNR;
// Products smaller than this many multiply-adds run on one thread: waking the pool costs
// more than they take.
constexpr int64_t kMinParallelWork = 64 * 64 * 64;

// ---- the micro-kernel ---------------------------------------------------------------------
// c (kMR, kNR), rows ldc apart, gets (accumulate ? c : 0) + a_panel @ b_panel, where
// a_panel is (kMR, kc) stored k-major and b_panel is (kc, kNR).
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__)) || defined(__ARM_NEON)

void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                  bool accumulate) {
    constexpr int kVecs = kNR / kLanes;
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

#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) {
            float* dst = c + r * ldc + v * kLanes;
            store(dst, accumulate ? add(load(dst), acc[r][v]) : acc[r][v]);
        }
}

#else

void micro_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                  bool accumulate) {
    float acc[kMR][kNR] = {};
    for (int64_t p = 0; p < kc; ++p, a += kMR, b += kNR)
        for (int r = 0; r < kMR; ++r)
            for (int j = 0; j < kNR; ++j) acc[r][j] += a[r] * b[j];
    for (int r = 0; r < kMR; ++r)
        for (int j = 0; j < kNR; ++j)
            c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

#endif

// The same for a tile cut short by the edge of c: only rows < m_valid and columns < n_valid
// exist. The full tile is computed into a buffer and the valid part copied out.
void micro_kernel_edge(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                       bool accumulate, int64_t m_valid, int64_t n_valid) {
    alignas(64) float tile[kMR * kNR];
    micro_kernel(kc, a, b, tile, kNR, false);
    for (int64_t r = 0; r < m_valid; ++r)
        for (int64_t j = 0; j < n_valid; ++j) {
            float& dst = c[r * ldc + j];
            dst = accumulate ? dst + tile[r * kNR + j] : tile[r * kNR + j];
        }
}

// ---- packing ------------------------------------------------------------------------------

// A float array aligned to a cache line (64 bytes), so vector loads never straddle two lines.
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

// b (K, N), cut into NR-column micro-panels for each KC block of rows. The panel for rows
// [p0, p0 + kc) and columns [jp * NR, jp * NR + NR) starts at panel(p0, kc, jp) and holds
// b[p0 + p][jp * NR + j] at p * NR + j; columns past N are zero.
struct PackedB {
    int64_t K = 0, N = 0, panels = 0;  // panels = ceil(N / NR)
    float* data = nullptr;             // K * panels * NR floats, in `buffer`
    FloatBuffer buffer;

    float* panel(int64_t p0, int64_t kc, int64_t jp) const {
        return data + p0 * panels * kNR + jp * kc * kNR;
    }
};

bool worth_threads(int64_t M, int64_t N, int64_t K) {
    return M * N * K >= kMinParallelWork && get_num_threads() > 1;
}

// Packs all of b (K, N); panels are independent, so threads share them out.
void pack_b(Strided b, int64_t K, int64_t N, PackedB& out, bool threads) {
    out.K = K;
    out.N = N;
    out.panels = (N + kNR - 1) / kNR;
    out.data = out.buffer.reserve(K * out.panels * kNR);
    auto pack_panels = [&](int64_t jp_begin, int64_t jp_end) {
        for (int64_t p0 = 0; p0 < K; p0 += kKC) {
            const int64_t kc = std::min(kKC, K - p0);
            for (int64_t jp = jp_begin; jp < jp_end; ++jp) {
                float* dst = out.panel(p0, kc, jp);
                const int64_t j0 = jp * kNR, nv = std::min(kNR, N - j0);
                for (int64_t p = 0; p < kc; ++p, dst += kNR) {
                    for (int64_t j = 0; j < nv; ++j) dst[j] = b(p0 + p, j0 + j);
                    for (int64_t j = nv; j < kNR; ++j) dst[j] = 0.0f;
                }
            }
        }
    };
    if (threads)
        parallel_for(0, out.panels, pack_panels);
    else
        pack_panels(0, out.panels);
}

// Packs rows [i0, i0 + mc) and columns [p0, p0 + kc) of a into MR-row micro-panels:
// micro-panel t holds a[i0 + t * MR + r][p0 + p] at t * MR * kc + p * MR + r; rows past
// i_end are zero.
void pack_a(Strided a, int64_t i0, int64_t mc, int64_t i_end, int64_t p0, int64_t kc, float* dst) {
    for (int64_t t = 0; t < mc; t += kMR) {
        const int64_t mv = std::min(kMR, i_end - (i0 + t));
        for (int64_t p = 0; p < kc; ++p, dst += kMR) {
            for (int64_t r = 0; r < mv; ++r) dst[r] = a(i0 + t + r, p0 + p);
            for (int64_t r = mv; r < kMR; ++r) dst[r] = 0.0f;
        }
    }
}

// ---- the loops around the micro-kernel ----------------------------------------------------

// c rows [m0, m1) x micro-panel columns [jp0, jp1) (of NR each) = a @ b, over all of K.
void gemm_tiles(Strided a, const PackedB& b, float* c, int64_t m0, int64_t m1, int64_t jp0,
                int64_t jp1) {
    const int64_t K = b.K, N = b.N;
    // One a block per thread, kept between calls (a fresh 100 KB each call costs page faults).
    static thread_local FloatBuffer a_buffer;
    float* a_pack = a_buffer.reserve(kMC * kKC);

    for (int64_t jc = jp0; jc < jp1; jc += kNC / kNR) {  // loop 5, in panels
        const int64_t jc_end = std::min(jp1, jc + kNC / kNR);
        for (int64_t pc = 0; pc < K; pc += kKC) {  // loop 4
            const int64_t kc = std::min(kKC, K - pc);
            const bool accumulate = pc > 0;              // the first K block overwrites c
            for (int64_t ic = m0; ic < m1; ic += kMC) {  // loop 3
                const int64_t mc = std::min(kMC, m1 - ic);
                pack_a(a, ic, mc, m1, pc, kc, a_pack);
                for (int64_t jp = jc; jp < jc_end; ++jp) {  // loop 2
                    const float* b_panel = b.panel(pc, kc, jp);
                    const int64_t j0 = jp * kNR, nv = std::min(kNR, N - j0);
                    for (int64_t ir = 0; ir < mc; ir += kMR) {  // loop 1
                        const float* a_panel = a_pack + ir * kc;
                        float* c_tile = c + (ic + ir) * N + j0;
                        const int64_t mv = std::min(kMR, mc - ir);
                        if (mv == kMR && nv == kNR)
                            micro_kernel(kc, a_panel, b_panel, c_tile, N, accumulate);
                        else
                            micro_kernel_edge(kc, a_panel, b_panel, c_tile, N, accumulate, mv, nv);
                    }
                }
            }
        }
    }
}

}  // namespace

void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c) {
    detail::check_gemm_args("gemm_blocked", a, b, c);
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    if (M == 0 || N == 0) return;
    if (K == 0) {  // a sum of nothing
        c.fill_(0.0f);
        return;
    }
    const bool threads = worth_threads(M, N, K);
    PackedB packed;
    pack_b(Strided{b.data(), b.stride(0), b.stride(1)}, K, N, packed, threads);

    const Strided as{a.data(), a.stride(0), a.stride(1)};
    float* C = c.data();
    const int64_t row_tiles = (M + kMR - 1) / kMR;
    if (!threads) {
        gemm_tiles(as, packed, C, 0, M, 0, packed.panels);
    } else if (row_tiles >= packed.panels) {
        // Threads take bands of rows, cut at multiples of MR so the tiles stay the same.
        parallel_for(0, row_tiles, [&](int64_t t0, int64_t t1) {
            gemm_tiles(as, packed, C, t0 * kMR, std::min(M, t1 * kMR), 0, packed.panels);
        });
    } else {
        // Threads take bands of NR-column micro-panels; each packs the a blocks it needs.
        parallel_for(0, packed.panels,
                     [&](int64_t jp0, int64_t jp1) { gemm_tiles(as, packed, C, 0, M, jp0, jp1); });
    }
}

}  // namespace vitlab
