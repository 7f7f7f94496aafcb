// matmul_blocked.cpp: a fast c = a @ b, built the way GotoBLAS and BLIS build theirs.
//
// Read matmul_naive.cpp first: its inner loop does two loads per multiply-add and walks b
// down a column. Here a small tile of c stays in registers for a whole run over K, and a and
// b are first copied ("packed") into exactly the order that run reads them, in blocks sized
// to stay in the caches. a (M, K), b (K, N), c (M, N); five loops, outermost first:
//
//   loop 5  for jc in [0, N) step NC                b panel        (KC, NC)  stays in L3
//   loop 4    for pc in [0, K) step KC              pack b panel (unless b came packed)
//   loop 3      for ic in [0, M) step <= MC         pack a block   (MC, KC)  stays in L2
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
// The micro-kernel (tensor/cpu/register_tile.h: MR x NR = 12 x 32 with AVX-512, 6 x 16 with
// AVX2) and the packers (tensor/cpu/matmul_kernels.cpp) exist once per instruction set; this
// file calls those of the set chosen at start-up (tensor/cpu/isa.h) through cpu::kernels().
// Packing: an a block becomes MR-row micro-panels stored k-major (a[r][p] at p * MR + r), b
// NR-column micro-panels (b[p][j] at p * NR + j), so the micro-kernel reads both with unit
// stride; ragged last rows / columns are padded with zeros.
// b is packed one (KC, NC) panel at a time into a per-thread buffer that the L3 holds, and
// then read from there by every a block; or it is packed once, completely, by pack_b() into a
// PackedB (same layout), which a layer reuses for every call with the same weight.
// NC is all of a thread's columns: for ViT-B's N <= 3072 a (KC, N) panel is at most 3 MB.
// The blocks of loop 3 are of near-equal size, whole micro-panels, at most MC rows.
//
// Threads: one parallel_for per product. Each thread owns a band of whole c tiles, rows (MR at
// a time) or columns (NR at a time), and runs all five loops on it, packing what it reads; a
// tile's operations are the same whichever thread computes it, so 1 or 2 threads give
// bit-identical results. A row split makes every thread pack all of b, a column split all of
// a, so the split is chosen to duplicate the smaller one, or b up to twice a's size (rows for
// a prepacked b).
//
// Two shapes of a Linear's backward get loops of their own, at the end of the file: dx = dy @ W
// (a and b row-major, small K) on a wider tile (gemm_wide), and dW = dy^T @ x (a long K, a small
// c) on a tile that reads both operands in place (gemm_tn_driver, with the bias gradient).
//
// bench/bench_matmul.cpp prints the speed beside OpenBLAS's and the core's peak.
// matmul_ladder.cpp has the steps from the naive loops to this file, each runnable.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/ops/matmul.h"
#include "tensor/ops/matmul_internal.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

using cpu::MatmulKernels;
using cpu::Strided;

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

int64_t panels_of(const MatmulKernels& mk, int64_t N) {
    return (N + mk.nr - 1) / mk.nr;
}

// ---- the loops around the micro-kernel ----------------------------------------------------

// Up to this K a row-major a is read in place (multiply_block); beyond it (ViT-B's 768 and
// 3072) it is packed as before, for which the kernels were tuned.
constexpr int64_t kInPlaceMaxK = 256;

// c rows [m0, m1) x micro-panels [jp0, jp1) (of NR columns) (+)= a[:, pc : pc + kc] @ those
// micro-panels of b, packed for rows [pc, pc + kc), the first at b_panels (loops 3, 2, 1);
// + bias (N floats) if not null.
// a_in_place: a is read where it is, not packed (see below; gemm_driver decides).
// b_in_place: b_panels is b's row pc itself (b row-major, all micro-panels whole), read in
// place by tile_in_place; a tile cut by the last row of a packs its panel of b.
void multiply_block(const MatmulKernels& mk, Strided a, bool a_in_place, const float* b_panels,
                    int64_t N, int64_t pc, int64_t kc, bool accumulate, const float* bias, float* c,
                    int64_t m0, int64_t m1, int64_t jp0, int64_t jp1, Strided b, bool b_in_place) {
    static thread_local FloatBuffer a_buffer;
    // A transposed a, or a row-major one with a small K, is read in place by the tiles (each
    // of its rows, or columns, is contiguous); only a tile cut by the last row of a is packed,
    // alone. With the small K of a small ViT (64, 128, 192) packing a cost as much as the
    // arithmetic on it (a copy of every element for kc multiply-adds each); read in place, the
    // tile's broadcasts come from a's own rows.
    // Blocks of near-equal size, at most MC rows, whole micro-panels: ViT's 577 rows as 204 +
    // 204 + 169, not 288 + 288 + 1, whose last block read the whole b panel for one row.
    const int64_t blocks = ceil_div(m1 - m0, mk.mc);
    const int64_t mc_step = ceil_div(ceil_div(m1 - m0, blocks), mk.mr) * mk.mr;
    for (int64_t ic = m0; ic < m1; ic += mc_step) {  // loop 3
        const int64_t mc = std::min(mc_step, m1 - ic);
        if (a_in_place) {
            for (int64_t jp = jp0; jp < jp1; ++jp) {
                const int64_t j0 = jp * mk.nr, nv = std::min(mk.nr, N - j0);
                const float* b_panel =
                    b_in_place ? b_panels + j0 : b_panels + (jp - jp0) * kc * mk.nr;
                const int64_t ldb = b_in_place ? b.row : mk.nr;
                const float* tile_bias = bias ? bias + j0 : nullptr;
                for (int64_t ir = 0; ir < mc; ir += mk.mr) {
                    const int64_t i = ic + ir, mv = std::min(mk.mr, mc - ir);
                    float* c_tile = c + i * N + j0;
                    if (mv == mk.mr && nv == mk.nr) {
                        const Strided rows{a.data + i * a.row + pc * a.col, a.row, a.col};
                        mk.tile_in_place(kc, rows, b_panel, ldb, c_tile, N, accumulate, tile_bias);
                    } else {
                        float* dst = a_buffer.reserve(mk.mr * mk.kc);
                        mk.pack_a(a, i, mk.mr, m1, pc, kc, dst);
                        const float* panel = b_panel;
                        if (b_in_place) {
                            static thread_local FloatBuffer edge_b;
                            float* packed_b = edge_b.reserve(mk.kc * mk.nr);
                            mk.pack_b(b, N, pc, kc, jp, jp + 1, packed_b);
                            panel = packed_b;
                        }
                        mk.tile_edge(kc, dst, panel, c_tile, N, accumulate, tile_bias, mv, nv);
                    }
                }
            }
            continue;
        }
        float* a_pack = a_buffer.reserve(mk.mc * mk.kc);
        mk.pack_a(a, ic, mc, m1, pc, kc, a_pack);
        for (int64_t jp = jp0; jp < jp1; ++jp) {  // loop 2
            const float* b_panel = b_panels + (jp - jp0) * kc * mk.nr;
            const int64_t j0 = jp * mk.nr, nv = std::min(mk.nr, N - j0);
            for (int64_t ir = 0; ir < mc; ir += mk.mr) {  // loop 1
                const float* a_panel = a_pack + ir * kc;
                float* c_tile = c + (ic + ir) * N + j0;
                const int64_t mv = std::min(mk.mr, mc - ir);
                const float* tile_bias = bias ? bias + j0 : nullptr;
                if (mv == mk.mr && nv == mk.nr)
                    mk.tile(kc, a_panel, b_panel, c_tile, N, accumulate, tile_bias);
                else
                    mk.tile_edge(kc, a_panel, b_panel, c_tile, N, accumulate, tile_bias, mv, nv);
            }
        }
    }
}

// One thread's share: c rows [m0, m1) x micro-panels [jp0, jp1) = a @ b (+ bias) over all
// of K (loop 4 and below); the bias is added with the last block of K. b is either packed already
// (`packed`, the layout above) or packed here, one block of KC rows at a time, into a per-thread
// buffer. Loop 5 (NC) is all of the thread's columns: a (KC, N) block of b is at most a few MB,
// which the L3 holds.
void gemm_part(const MatmulKernels& mk, Strided a, bool a_in_place, int64_t K, int64_t N,
               const float* packed, Strided b, const float* bias, float* c, int64_t m0, int64_t m1,
               int64_t jp0, int64_t jp1) {
    const int64_t panels = panels_of(mk, N);
    // A row-major b of whole micro-panels is read in place when a is (a Linear's dW: b is x,
    // (B * N, in), and packing it cost a copy of x per product).
    const bool b_in_place = !packed && a_in_place && b.col == 1 && N % mk.nr == 0;
    static thread_local FloatBuffer b_buffer;
    float* b_pack =
        packed || b_in_place ? nullptr : b_buffer.reserve(std::min(mk.kc, K) * (jp1 - jp0) * mk.nr);
    for (int64_t pc = 0; pc < K; pc += mk.kc) {  // loop 4
        const int64_t kc = std::min(mk.kc, K - pc);
        const float* b_panels;
        if (b_in_place) {
            b_panels = b.data + pc * b.row;
        } else if (packed) {
            b_panels = packed + pc * panels * mk.nr + jp0 * kc * mk.nr;
        } else {
            mk.pack_b(b, N, pc, kc, jp0, jp1, b_pack);
            b_panels = b_pack;
        }
        const bool accumulate = pc > 0;  // the first block of K overwrites c
        const float* block_bias = pc + kc == K ? bias : nullptr;
        multiply_block(mk, a, a_in_place, b_panels, N, pc, kc, accumulate, block_bias, c, m0, m1,
                       jp0, jp1, b, b_in_place);
    }
}

// c (M, N) = a (M, K) @ b (K, N), b packed already or not (see gemm_part).
// Threads: one parallel_for per product, each thread owning a band of whole c tiles, either
// rows (MR at a time) or columns (NR at a time). Splitting at tile boundaries keeps every
// tile's arithmetic the same, so 1 and 2 threads give bit-identical results. A thread packs
// what it reads, so a row split packs all of b in each thread (unless b came packed) and a
// column split all of a: split so that the operand packed twice is the smaller one, or b when
// it is at most twice a.
void gemm_driver(const MatmulKernels& mk, Strided a, int64_t M, int64_t K, int64_t N,
                 const float* packed, Strided b, const float* bias, float* c) {
    const int64_t panels = panels_of(mk, N), row_tiles = (M + mk.mr - 1) / mk.mr;
    // One thread per kGrainMultiplyAdds of work (thread_pool.h), at most all of them.
    const int threads =
        static_cast<int>(std::clamp<int64_t>(M * N * K / kGrainMultiplyAdds, 1, get_num_threads()));
    // Rows while b is at most twice the size of a: packing b is a plain copy of whole vectors
    // (pack_b). ViT-B's proj (577 x 768 @ 768 x 768) on 2 threads: 1.90 ms by rows, 2.09 by
    // columns (Zen 5, medians of 21, alternated, when columns still shared one pack of a); fc2
    // (b 1.3x a) takes the same time either way; qkv and fc1 (b 4 and 5x a) stay columns.
    bool split_rows = packed ? row_tiles >= threads : 2 * M >= N;
    if (split_rows && row_tiles < threads && panels >= threads) split_rows = false;
    if (!split_rows && panels < threads && row_tiles >= threads) split_rows = true;
    // Each thread packs the a it reads. Packing it once for all threads (each packing a share
    // into one buffer, before the products) was tried: slower on Zen 5 (docs/performance.md).
    const bool a_in_place = (a.row == 1 && a.col != 1) || (a.col == 1 && K <= kInPlaceMaxK);
    auto work = [&](int64_t t0, int64_t t1) {
        if (split_rows)
            gemm_part(mk, a, a_in_place, K, N, packed, b, bias, c, t0 * mk.mr,
                      std::min(M, t1 * mk.mr), 0, panels);
        else
            gemm_part(mk, a, a_in_place, K, N, packed, b, bias, c, 0, M, t0, t1);
    };
    const int64_t tiles = split_rows ? row_tiles : panels;
    const int64_t tile_work = (split_rows ? mk.mr * N : mk.nr * M) * K;  // multiply-adds
    parallel_for(0, tiles, ceil_div(kGrainMultiplyAdds, tile_work), work);
}

Strided strided_of(const Tensor& t) {
    return Strided{t.data(), t.stride(0), t.stride(1)};
}

// ---- a row-major a and b with a small K: the wide tile ----------------------------------------
//
// dx (M, in) = dy (M, out) @ W (out, in) in a Linear's backward: a and b row-major, read in place
// (K = out <= kInPlaceMaxK), N = in a multiple of 64. The loops above would cut c into 12 x 32
// tiles and read each row of a once per 32 columns; here (wide_mr, wide_nr) = (6, 64) tiles
// (AVX-512) read it once per 64, with fewer loads per multiply-add (matmul_kernels.cpp):
//
//   for each block of mc rows (a thread's share)   its rows of c stay in L2 over K
//     for pc in [0, K) step kc                     as gemm_part: c (+)= a[:, pc:] @ b[pc:, :]
//       for each wide_mr rows i                    wide_mr rows of a (kc floats each) in L1
//         for each wide_nr columns j               b (kc, wide_nr) from L1 / L2
//           c tile (+)= a rows @ b block           (+ bias with the last block of K)
//
// Blocks of K and the order of the multiply-adds in an element of c are those of gemm_part,
// so the result has the same bits; threads split whole rows of tiles.
void gemm_wide(const MatmulKernels& mk, Strided a, Strided b, int64_t M, int64_t K, int64_t N,
               const float* bias, float* c) {
    const int64_t WR = mk.wide_mr, WC = mk.wide_nr;
    auto rows = [&](int64_t t0, int64_t t1) {
        for (int64_t ic = t0 * WR; ic < t1 * WR; ic += mk.mc) {
            const int64_t i_end = std::min(t1 * WR, ic + mk.mc);
            for (int64_t pc = 0; pc < K; pc += mk.kc) {
                const int64_t kc = std::min(mk.kc, K - pc);
                const float* block_bias = pc + kc == K ? bias : nullptr;
                for (int64_t i = ic; i < i_end; i += WR)
                    for (int64_t j = 0; j < N; j += WC)
                        mk.tile_wide(kc, Strided{a.data + i * a.row + pc, a.row, 1},
                                     b.data + pc * b.row + j, b.row, c + i * N + j, N, pc > 0,
                                     block_bias ? block_bias + j : nullptr);
            }
        }
    };
    parallel_for(0, M / WR, ceil_div(kGrainMultiplyAdds, WR * N * K), rows);
}

// ---- c = a^T @ b: a Linear's weight gradient ---------------------------------------------------
//
// dW (out, in) = dy^T @ x for dy (M, out) and x (M, in): K = M is long (B * N rows, 6400 for
// vit_fmnist at batch 128) while out and in are small. Both operands are read in place, row p of
// each at a time: tn_mr floats of dy's row broadcast one by one, tn_nr floats of x's row loaded
// as whole registers, a (tn_mr, tn_nr) tile of dW accumulating in registers (8 x 32 with
// AVX-512, 4 x 16 otherwise):
//
//        a = dy (K, m)            b = x (K, n)             c = dW (m, n)
//       +-----+-----+--         +-------+-------+        +-------+-------+
//  pc   | TR  |     |        pc | TC    |       |     TR | tile  | tile  |  one row of tiles
//  + kc |     |     |   @  + kc |       |       |   ->   +-------+-------+  per thread chunk
//       +-----+-----+--         +-------+-------+        |       |       |
//
//   for pc in [0, K) step kc                       kc rows of a and b: a block in L2
//     for each row of tiles (a thread's share)     a sliver (kc, TR) stays in L1 for the row
//       for each tile in the row                   b sliver (kc, TC), read from L2
//         c tile (+)= a sliver^T @ b sliver
//     the column sums of the thread's columns of a (the bias gradient, while they are in L2)
//
// c is read and written once per block of kc rows, for kc * TR * TC multiply-adds. A tile cut by
// the edge of c copies its slivers, padded with zeros, into buffers and runs the same tile.
// Threads split the rows of tiles; each tile and each column sum is computed whole by one
// thread, in the same order, so every thread count gives the same bits. The column sums are
// float over a block, the blocks added in double.
void gemm_tn_driver(const MatmulKernels& mk, Strided a, Strided b, int64_t K, int64_t m, int64_t n,
                    float* c, float* col_sums) {
    const int64_t TR = mk.tn_mr, TC = mk.tn_nr;
    const int64_t row_tiles = ceil_div(m, TR), col_tiles = ceil_div(n, TC);
    std::vector<double> sums(col_sums ? m : 0, 0.0);
    auto rows_of_tiles = [&](int64_t t0, int64_t t1) {
        static thread_local FloatBuffer edge_buffer;
        static thread_local FloatBuffer sums_buffer;
        float* edge_a = edge_buffer.reserve(mk.tn_kc * (TR + TC) + TR * TC);
        float* edge_b = edge_a + mk.tn_kc * TR;
        float* edge_c = edge_b + mk.tn_kc * TC;
        float* block_sums = sums_buffer.reserve((t1 - t0) * TR);
        for (int64_t pc = 0; pc < K; pc += mk.tn_kc) {
            const int64_t kc = std::min(mk.tn_kc, K - pc);
            const float* a_block = a.data + pc * a.row;
            const float* b_block = b.data + pc * b.row;
            for (int64_t ti = t0; ti < t1; ++ti) {
                const int64_t i0 = ti * TR, mv = std::min(TR, m - i0);
                for (int64_t tj = 0; tj < col_tiles; ++tj) {
                    const int64_t j0 = tj * TC, nv = std::min(TC, n - j0);
                    float* c_tile = c + i0 * n + j0;
                    if (mv == TR && nv == TC) {
                        mk.tile_tn(kc, a_block + i0, a.row, b_block + j0, b.row, c_tile, n, pc > 0);
                        continue;
                    }
                    for (int64_t p = 0; p < kc; ++p)
                        for (int64_t r = 0; r < TR; ++r)
                            edge_a[p * TR + r] = r < mv ? a_block[p * a.row + i0 + r] : 0.0f;
                    for (int64_t p = 0; p < kc; ++p)
                        for (int64_t j = 0; j < TC; ++j)
                            edge_b[p * TC + j] = j < nv ? b_block[p * b.row + j0 + j] : 0.0f;
                    mk.tile_tn(kc, edge_a, TR, edge_b, TC, edge_c, TC, false);
                    for (int64_t r = 0; r < mv; ++r)
                        for (int64_t j = 0; j < nv; ++j) {
                            float& dst = c_tile[r * n + j];
                            dst = pc > 0 ? dst + edge_c[r * TC + j] : edge_c[r * TC + j];
                        }
                }
            }
            if (!col_sums) continue;
            const int64_t i0 = t0 * TR, i1 = std::min(m, t1 * TR);
            mk.column_sums(kc, a_block + i0, a.row, i1 - i0, block_sums);
            for (int64_t i = i0; i < i1; ++i) sums[i] += block_sums[i - i0];
        }
    };
    parallel_for(0, row_tiles, ceil_div(kGrainMultiplyAdds, TR * std::max<int64_t>(n, 1) * K),
                 rows_of_tiles);
    for (int64_t i = 0; col_sums && i < m; ++i) col_sums[i] = static_cast<float>(sums[i]);
}

}  // namespace

void detail::gemm_tn_blocked(const Tensor& a, const Tensor& b, Tensor& c, float* col_sums) {
    if (a.dim() != 2 || b.dim() != 2 || a.size(0) != b.size(0))
        throw ShapeError(
            fmt::format("gemm_tn_blocked: expected a (K, m) and b (K, n), got {} and {}", a.shape(),
                        b.shape()));
    const int64_t K = a.size(0), m = a.size(1), n = b.size(1);
    const Shape want{m, n};
    if (c.shape() != want || !c.is_contiguous())
        throw ShapeError(fmt::format("gemm_tn_blocked: c has shape {}, expected a contiguous {}",
                                     c.shape(), want));
    if (c.numel() > 0 && (c.shares_storage_with(a) || c.shares_storage_with(b)))
        throw std::invalid_argument("gemm_tn_blocked: c must not share storage with a or b");
    if (K == 0) {  // sums of nothing
        c.fill_(0.0f);
        for (int64_t i = 0; col_sums && i < m; ++i) col_sums[i] = 0.0f;
        return;
    }
    // The tile reads a row's floats side by side: a copy when a or b is not laid out so.
    const Tensor a2 = a.stride(1) == 1 ? a : a.contiguous();
    const Tensor b2 = b.stride(1) == 1 ? b : b.contiguous();
    gemm_tn_driver(cpu::kernels().matmul, strided_of(a2), strided_of(b2), K, m, n, c.data(),
                   col_sums);
}

void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c, const float* bias) {
    detail::check_gemm_args("gemm_blocked", a, b, c);
    const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
    if (M == 0 || N == 0) return;
    if (K == 0) {  // a sum of nothing
        detail::fill_rows(c, bias);
        return;
    }
    const MatmulKernels& mk = cpu::kernels().matmul;
    if (mk.wide_nr > 0 && a.stride(1) == 1 && b.stride(1) == 1 && K <= kInPlaceMaxK &&
        N % mk.wide_nr == 0 && M >= mk.wide_mr) {
        // Whole tiles of wide_mr rows on the wide tile; the last rows, if any, below.
        const int64_t m_wide = M / mk.wide_mr * mk.wide_mr;
        gemm_wide(mk, strided_of(a), strided_of(b), m_wide, K, N, bias, c.data());
        if (m_wide == M) return;
        const Strided rest{a.data() + m_wide * a.stride(0), a.stride(0), 1};
        gemm_driver(mk, rest, M - m_wide, K, N, nullptr, strided_of(b), bias,
                    c.data() + m_wide * N);
        return;
    }
    gemm_driver(mk, strided_of(a), M, K, N, nullptr, strided_of(b), bias, c.data());
}

PackedB pack_b(const Tensor& b) {
    if (b.dim() != 2)
        throw ShapeError(fmt::format("pack_b: expected a 2-d b (K, N), got {}", b.shape()));
    const Isa isa = current_isa();
    const MatmulKernels& mk = cpu::kernels(isa).matmul;
    const int64_t K = b.size(0), N = b.size(1), panels = panels_of(mk, N);
    const int64_t n = std::max<int64_t>(1, K * panels * mk.nr);
    std::shared_ptr<float> data(
        static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64))),
        [](float* p) { ::operator delete(p, std::align_val_t(64)); });
    const Strided bs = strided_of(b);
    for (int64_t pc = 0; pc < K; pc += mk.kc) {
        const int64_t kc = std::min(mk.kc, K - pc);
        float* block = data.get() + pc * panels * mk.nr;
        auto pack = [&](int64_t jp0, int64_t jp1) {
            mk.pack_b(bs, N, pc, kc, jp0, jp1, block + jp0 * kc * mk.nr);
        };
        parallel_for(0, panels, ceil_div(kGrainSize, kc * mk.nr), pack);
    }
    return PackedB{K, N, isa, std::move(data)};
}

void gemm_blocked(const Tensor& a, const PackedB& b, Tensor& c, const float* bias) {
    // The checks of check_gemm_args (matmul_internal.h), for a b that is already packed.
    const Shape b_shape{b.K, b.N};
    if (a.dim() != 2 || a.size(1) != b.K)
        throw ShapeError(
            fmt::format("gemm_blocked: cannot multiply {} by packed {}", a.shape(), b_shape));
    const Shape want{a.size(0), b.N};
    if (c.shape() != want)
        throw ShapeError(fmt::format("gemm_blocked: c has shape {}, expected {} for {} @ packed {}",
                                     c.shape(), want, a.shape(), b_shape));
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
    gemm_driver(cpu::kernels(b.isa).matmul, strided_of(a), M, K, N, b.panels.get(),
                Strided{nullptr, 0, 0}, bias, c.data());
}

}  // namespace vitlab
