// kernels.h: the table of SIMD kernels, one per instruction set (internal to tensor/).
//
// The operators (tensor/ops/*_blocked.cpp, gelu.cpp, layer_norm.cpp) are compiled once, for the
// baseline CPU. They check shapes, allocate, split the work across threads, and call the kernel
// bodies through this table, which holds the functions of the instruction set chosen at start-up
// (isa.h). The bodies live in tensor/cpu/*_kernels.cpp, written once against the register
// vocabulary of simd.h and compiled once per set into the namespaces vitlab::cpu::base, ::avx2 and
// ::avx512. They take raw pointers and sizes only: no Tensor, no allocation, no threads, so the
// code compiled with AVX-512 is only the kernels.
#pragma once

#include <cstdint>

#include "tensor/cpu/isa.h"

namespace vitlab::cpu {

// A matrix operand as the packers see it: element (i, j) at data[i * row + j * col].
struct Strided {
    const float* data;
    int64_t row, col;
    float operator()(int64_t i, int64_t j) const { return data[i * row + j * col]; }
};

// ---- matmul (matmul_kernels.cpp; the loops around them in tensor/ops/matmul_blocked.cpp) --
struct MatmulKernels {
    int64_t mr, nr;  // the c tile held in registers: (mr, nr)
    int64_t kc, mc;  // cache blocks: kc rows of b per micro-panel (L1), mc rows of a (L2)
    // c (mr, nr), rows ldc apart, = (accumulate ? c : 0) + a_panel @ b_panel (+ bias[j] on
    // every row if bias is not null); a_panel (mr, kc) k-major: a[r][p] at p * mr + r;
    // b_panel (kc, nr): b[p][j] at p * nr + j.
    void (*tile)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate,
                 const float* bias);
    // The same for a tile cut by the edge of c: only rows < m_valid, columns < n_valid exist.
    void (*tile_edge)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                      bool accumulate, const float* bias, int64_t m_valid, int64_t n_valid);
    // tile with a read in place, not packed: a (mr, kc) with a(r, p) at data[r * row + p * col]
    // and row == 1 or col == 1 (a row-major matrix or a transposed one), all mr rows present;
    // b (kc, nr) with its rows ldb apart (a packed panel: ldb = nr; else b's own rows).
    void (*tile_in_place)(int64_t kc, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
                          bool accumulate, const float* bias);
    // Rows [i0, i0 + mc) and columns [p0, p0 + kc) of a into mr-row micro-panels: micro-panel
    // t holds a[i0 + t * mr + r][p0 + p] at t * mr * kc + p * mr + r; rows past i_end are zero.
    void (*pack_a)(Strided a, int64_t i0, int64_t mc, int64_t i_end, int64_t p0, int64_t kc,
                   float* dst);
    // Rows [p0, p0 + kc) of micro-panels [jp0, jp1) of b (K, N): micro-panel jp holds
    // b[p0 + p][jp * nr + j] at (jp - jp0) * kc * nr + p * nr + j, zero past column N.
    void (*pack_b)(Strided b, int64_t N, int64_t p0, int64_t kc, int64_t jp0, int64_t jp1,
                   float* panels);
    // A Linear's weight gradient, c = a^T @ b read in place (gemm_tn_blocked, matmul_blocked.cpp):
    // its own register tile (tn_mr, tn_nr) and block of tn_kc rows. c (tn_mr, tn_nr), rows ldc
    // apart, = (accumulate ? c : 0) + a^T @ b for a (kc, tn_mr) and b (kc, tn_nr), rows lda and
    // ldb apart: a(p, r) at a[p * lda + r], b(p, j) at b[p * ldb + j].
    int64_t tn_mr, tn_nr, tn_kc;
    void (*tile_tn)(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                    int64_t ldc, bool accumulate);
    // sums[j] = a(0, j) + a(1, j) + ... + a(rows - 1, j) in float, in that order, for j < n;
    // a(p, j) at a[p * lda + j] (the bias gradient: column sums of dy).
    void (*column_sums)(int64_t rows, const float* a, int64_t lda, int64_t n, float* sums);
    // A wider tile for a and b both read in place (gemm_wide in matmul_blocked.cpp: dx = dy @ W
    // in a Linear's backward): as tile_in_place, a(r, p) at a.data[r * a.row + p], for a tile
    // (wide_mr, wide_nr). wide_nr == 0 where the set has no such tile.
    int64_t wide_mr, wide_nr;
    void (*tile_wide)(int64_t kc, Strided a, const float* b, int64_t ldb, float* c, int64_t ldc,
                      bool accumulate, const float* bias);
    // The peak the tile is measured against (bench/): `steps` rounds of kFmaChains
    // independent fused multiply-adds on registers of `lanes` floats; returns their sum.
    int64_t lanes;
    float (*fma_chains)(int64_t steps);
};
constexpr int kFmaChains = 12;

// ---- softmax (softmax_kernels.cpp; the driver in tensor/ops/softmax_blocked.cpp) -----------
constexpr int64_t kSoftmaxColumns = 64;  // the widest column block softmax_columns takes
struct SoftmaxKernels {
    // out = softmax(x) of `rows` contiguous rows of n floats (rows, n >= 1); out may be x.
    void (*rows)(const float* x, float* out, int64_t rows, int64_t n);
    // softmax down each of the w <= kSoftmaxColumns columns of an (n, w) block, rows ld apart.
    void (*columns)(const float* x, float* out, int64_t n, int64_t w, int64_t ld);
    // row[0 .. n) = softmax(row * scale), in place (attention's scores).
    void (*scaled_row)(float* row, int64_t n, float scale);
    // out[i] = simd::exp_approx(x[i]): the exp the kernels use, for tests of its accuracy.
    void (*exp)(const float* x, float* out, int64_t n);
    // The backward of `rows` contiguous rows of n floats (softmax_backward.h), y the forward's
    // output: softmax dx = y * (dy - sum(dy * y)), log_softmax dx = dy - exp(y) * sum(dy).
    void (*backward_rows)(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);
    void (*log_backward_rows)(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);
};

// ---- GELU and layer norm (gelu_kernels.cpp, layer_norm_kernels.cpp) -----------------------
struct GeluKernels {
    void (*erf)(const float* x, float* out, int64_t n);   // exact GELU, x * Phi(x)
    void (*tanh)(const float* x, float* out, int64_t n);  // approximate = "tanh"
    // The backward (gelu_backward.h): dx[i] = dy[i] * gelu'(x[i]); dx may be dy.
    void (*backward_erf)(const float* dy, const float* x, float* dx, int64_t n);
    void (*backward_tanh)(const float* dy, const float* x, float* dx, int64_t n);
};
struct LayerNormKernels {
    // `rows` rows of C floats: o = (x - mean) / sqrt(var + eps) * w + b, row by row.
    void (*rows)(const float* x, float* o, const float* w, const float* b, int64_t rows, int64_t C,
                 float eps);
    // The backward of `rows` rows (layer_norm_backward.h): dx row by row, and the column sums
    // dw[i] = sum_r dy[r][i] xhat[r][i], db[i] = sum_r dy[r][i] written (not added) to dw, db.
    void (*backward_rows)(const float* dy, const float* x, const float* w, float* dx, float* dw,
                          float* db, int64_t rows, int64_t C, float eps);
};

// ---- attention (attention_kernels.cpp) ------------------------------------------------------
// One block of query rows [i0, i0 + rows) of one head; the driver and the drawing are in
// tensor/ops/scaled_dot_product_attention_blocked.cpp.
struct AttentionBlock {
    int64_t N = 0, D = 0;          // tokens, head dim
    int64_t n_pad = 0, d_pad = 0;  // N and D rounded up to whole panels of nr
    float scale = 1.0f;
    const float* kt = nullptr;  // the head's k^T (D, N), packed by pack_kt
    const float* vp = nullptr;  // the head's v (N, D), packed by pack_v
    Strided q{nullptr, 0, 0};   // the head's q (N, D)
    int64_t i0 = 0, rows = 0;
    float* q_rows = nullptr;  // scratch: row_block * D floats
    float* scores = nullptr;  // scratch: row_block * n_pad
    float* o = nullptr;       // scratch: row_block * d_pad
    float* out = nullptr;     // (rows, D), rows ldo apart
    int64_t ldo = 0;
    float* probs = nullptr;  // (rows, N), rows N apart, or null
};
// The backward of one head (scaled_dot_product_attention_backward.h has the formulas).
struct AttentionBackwardHead {
    int64_t N = 0, D = 0;
    float scale = 1.0f;
    Strided q{nullptr, 0, 0}, k{nullptr, 0, 0}, v{nullptr, 0, 0};  // (N, D)
    Strided out{nullptr, 0, 0}, dout{nullptr, 0, 0};               // (N, D)
    float *dq = nullptr, *dk = nullptr, *dv = nullptr;             // (N, D), rows ld apart, written
    int64_t ldq = 0, ldk = 0, ldv = 0;
    float* scratch = nullptr;  // backward_scratch(N, D) floats
};
// A whole head at once, forward, for heads that head_fits (small N: the driver decides).
struct AttentionHead {
    int64_t N = 0, D = 0;
    float scale = 1.0f;
    Strided q{nullptr, 0, 0}, k{nullptr, 0, 0}, v{nullptr, 0, 0};  // (N, D), col == 1
    float* out = nullptr;                                          // (N, D), rows ldo apart
    int64_t ldo = 0;
    float* probs = nullptr;    // (N, N), rows N apart, or null
    float* scratch = nullptr;  // head_scratch(N, D) floats
};
struct AttentionKernels {
    int64_t nr, row_block;  // panel width; query rows per block
    void (*pack_kt)(Strided k, int64_t N, int64_t D, float* dst);  // D * n_pad floats
    void (*pack_v)(Strided v, int64_t N, int64_t D, float* dst);   // N * d_pad floats
    void (*attend)(const AttentionBlock& block);
    int64_t (*backward_scratch)(int64_t N, int64_t D);
    void (*backward)(const AttentionBackwardHead& head);
    // The whole-head kernels, the query index in the lanes (attention_kernels.cpp draws them):
    // for D of 1 to 4 whole registers and q, k, v, out, dout rows contiguous (col == 1).
    bool (*head_fits)(int64_t D);
    int64_t (*head_scratch)(int64_t N, int64_t D);  // floats, forward and backward
    void (*attend_head)(const AttentionHead& head);
    void (*backward_head)(const AttentionBackwardHead& head);  // scratch: head_scratch floats
};

struct CpuKernels {
    MatmulKernels matmul;
    SoftmaxKernels softmax;
    GeluKernels gelu;
    LayerNormKernels layer_norm;
    AttentionKernels attention;
};

// The kernels of current_isa(), and those of a given available set.
const CpuKernels& kernels();
const CpuKernels& kernels(Isa isa);

// Each *_kernels.cpp defines its part of the table in the namespace of its instruction set.
#define VITLAB_CPU_DECLARE_KERNELS(ns)                \
    namespace ns {                                    \
    extern const MatmulKernels matmul_kernels;        \
    extern const SoftmaxKernels softmax_kernels;      \
    extern const GeluKernels gelu_kernels;            \
    extern const LayerNormKernels layer_norm_kernels; \
    extern const AttentionKernels attention_kernels;  \
    }
VITLAB_CPU_DECLARE_KERNELS(base)
VITLAB_CPU_DECLARE_KERNELS(avx2)
VITLAB_CPU_DECLARE_KERNELS(avx512)
#undef VITLAB_CPU_DECLARE_KERNELS

}  // namespace vitlab::cpu
