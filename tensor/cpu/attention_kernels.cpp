// attention_kernels.cpp: the kernels of scaled_dot_product_attention_blocked, per instruction
// set (kernels.h). tensor/ops/scaled_dot_product_attention_blocked.cpp draws the blocking and
// owns the loops over heads and threads; this file packs one head's k^T and v into panels and runs
// one block of query rows:
//   s = q[rows] @ k^T, s = softmax(s * scale) row by row, out[rows] = s @ v
// with the register tile of every matrix product (register_tile.h), reading q and the score
// rows in place, and the scaled row softmax of softmax_kernels.cpp.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/register_tile.h"
#include "tensor/cpu/simd_transpose.h"

namespace vitlab::cpu::VITLAB_CPU_NS {

namespace {

using simd::kTileCols;
using simd::kTileRows;
constexpr int64_t kMR = kTileRows, kNR = kTileCols;
constexpr int64_t kRowBlock = 8 * kMR;  // query rows per block: (R, N) scores fit in L2

int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

// c (kMR, kNR), rows ldc apart  =  a (kMR, kc), rows lda apart  @  b (kc, kNR), packed.
void tile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc) {
    simd::register_tile(kc, simd::StridedRows{a, lda}, b, c, ldc, false, nullptr);
}

void copy(float* dst, const float* src, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Packs b (K, N) of one product into kNR-column panels, zero past column N:
// panel jp holds b(p, jp*kNR + j) at jp*K*kNR + p*kNR + j.
template <class B>
void pack_panels(B b, int64_t K, int64_t N, float* dst) {
    for (int64_t j0 = 0; j0 < N; j0 += kNR) {
        const int64_t nv = N - j0 < kNR ? N - j0 : kNR;
        for (int64_t p = 0; p < K; ++p, dst += kNR) {
            for (int64_t j = 0; j < nv; ++j) dst[j] = b(p, j0 + j);
            for (int64_t j = nv; j < kNR; ++j) dst[j] = 0.0f;
        }
    }
}

// The same for v (N, D) with contiguous rows (col == 1): a row of a panel is one copy.
void pack_v(Strided v, int64_t N, int64_t D, float* dst) {
    if (v.col != 1) return pack_panels(v, N, D, dst);
    for (int64_t d0 = 0; d0 < D; d0 += kNR) {
        const int64_t nv = D - d0 < kNR ? D - d0 : kNR;
        for (int64_t p = 0; p < N; ++p, dst += kNR) {
            const float* src = v.data + p * v.row + d0;
            for (int64_t j = 0; j < nv; ++j) dst[j] = src[j];
            for (int64_t j = nv; j < kNR; ++j) dst[j] = 0.0f;
        }
    }
}

// The same for k^T (D, N), the b of q @ k^T: element (p, j) = k(j, p). With k's rows
// contiguous, the whole panels are made of 8 x 8 blocks transposed in registers
// (simd_transpose.h); a ragged last panel (577 tokens = 36 panels of 16 and 1 more) goes one
// float at a time.
void pack_kt(Strided k, int64_t N, int64_t D, float* dst) {
    const int64_t whole = k.col == 1 && D % 8 == 0 ? N / kNR * kNR : 0;  // columns by blocks
    for (int64_t j0 = 0; j0 < whole; j0 += kNR, dst += D * kNR)
        for (int64_t j = 0; j < kNR; j += 8)
            for (int64_t p = 0; p < D; p += 8)
                simd::transpose8x8(k.data + (j0 + j) * k.row + p, k.row, dst + p * kNR + j, kNR);
    pack_panels([&](int64_t p, int64_t j) { return k(whole + j, p); }, D, N - whole, dst);
}

// One block of query rows of one head (kernels.h: AttentionBlock).
void attend(const AttentionBlock& k) {
    const int64_t N = k.N, D = k.D, rows = k.rows, rows_pad = round_up(rows, kMR);

    // The q rows, contiguous, with zero rows up to a whole tile.
    float* qr = k.q_rows;
    for (int64_t r = 0; r < rows_pad; ++r) {
        if (r < rows && k.q.col == 1)
            copy(qr + r * D, k.q.data + (k.i0 + r) * k.q.row, D);
        else
            for (int64_t d = 0; d < D; ++d) qr[r * D + d] = r < rows ? k.q(k.i0 + r, d) : 0.0f;
    }

    // s = q[rows] @ k^T   (rows_pad, n_pad)
    float* s = k.scores;
    for (int64_t j0 = 0; j0 < k.n_pad; j0 += kNR)
        for (int64_t r = 0; r < rows_pad; r += kMR)
            tile(D, qr + r * D, D, k.kt + j0 * D, s + r * k.n_pad + j0, k.n_pad);

    for (int64_t r = 0; r < rows; ++r) {
        softmax_kernels.scaled_row(s + r * k.n_pad, N, k.scale);
        if (k.probs) copy(k.probs + r * N, s + r * k.n_pad, N);
    }

    // out[rows] = s @ v   (rows_pad, d_pad), then the valid part into the merged output
    float* o = k.o;
    for (int64_t d0 = 0; d0 < k.d_pad; d0 += kNR)
        for (int64_t r = 0; r < rows_pad; r += kMR)
            tile(N, s + r * k.n_pad, k.n_pad, k.vp + d0 * N, o + r * k.d_pad + d0, k.d_pad);
    for (int64_t r = 0; r < rows; ++r) copy(k.out + r * k.ldo, o + r * k.d_pad, D);
}

}  // namespace

const AttentionKernels attention_kernels = {kNR, kRowBlock, pack_kt, pack_v, attend};

}  // namespace vitlab::cpu::VITLAB_CPU_NS
