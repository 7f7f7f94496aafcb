// attention_kernels.cpp: the kernels of scaled_dot_product_attention_blocked, per instruction
// set (kernels.h). tensor/ops/scaled_dot_product_attention_blocked.cpp draws the blocking and
// owns the loops over heads and threads; this file packs one head's k^T and v into panels and runs
// one block of query rows:
//   s = q[rows] @ k^T, s = softmax(s * scale) row by row, out[rows] = s @ v
// with the register tile of every matrix product (register_tile.h), reading q and the score
// rows in place, and the scaled row softmax of softmax_kernels.cpp. At the end: the kernels
// of a whole small head at once (forward and backward), the query index in the lanes.
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

// dst[0 .. n) = src[0 .. n), a register at a time (a head's row is often one register: D = 16).
void copy(float* dst, const float* src, int64_t n) {
    int64_t i = 0;
    for (; i + simd::kLanes <= n; i += simd::kLanes) simd::store(dst + i, simd::load(src + i));
    if (i < n) simd::store_part(dst + i, simd::load_part(src + i, n - i, 0.0f), n - i);
}

// dst[0 .. width) = src[0 .. n) and zeros after it (n <= width, width whole registers).
void copy_padded(float* dst, const float* src, int64_t n, int64_t width) {
    for (int64_t i = 0; i < width; i += simd::kLanes) {
        const int64_t left = n - i;
        simd::store(dst + i, left >= simd::kLanes ? simd::load(src + i)
                             : left > 0           ? simd::load_part(src + i, left, 0.0f)
                                                  : simd::splat(0.0f));
    }
}

// x . y over n floats.
float dot(const float* x, const float* y, int64_t n) {
    simd::Vec acc = simd::splat(0.0f);
    int64_t i = 0;
    for (; i + simd::kLanes <= n; i += simd::kLanes)
        acc = simd::fmadd(simd::load(x + i), simd::load(y + i), acc);
    if (i < n)
        acc = simd::fmadd(simd::load_part(x + i, n - i, 0.0f), simd::load_part(y + i, n - i, 0.0f),
                          acc);
    return simd::sum_lanes(acc);
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

// A head no wider than one register (D = 16 with AVX-512, whose tile is 32 wide) takes the
// products that end in D columns (out = P v; dv, dq, dk in the backward) on a tile one register
// wide, so that half of every tile is not padding: v is packed in panels of kNarrow then.
constexpr int64_t kNarrow = simd::kLanes;
bool narrow(int64_t D) {
    return kNarrow < kNR && D <= kNarrow;
}

// The same for v (N, D) with contiguous rows (col == 1): a row of a panel is one copy. A
// narrow head (see kNarrow) is one panel of kNarrow columns.
void pack_v(Strided v, int64_t N, int64_t D, float* dst) {
    if (narrow(D)) {
        for (int64_t p = 0; p < N; ++p, dst += kNarrow)
            if (v.col == 1) {
                copy_padded(dst, v.data + p * v.row, D, kNarrow);
            } else {
                for (int64_t j = 0; j < kNarrow; ++j) dst[j] = j < D ? v(p, j) : 0.0f;
            }
        return;
    }
    if (v.col != 1) return pack_panels(v, N, D, dst);
    for (int64_t d0 = 0; d0 < D; d0 += kNR) {
        const int64_t nv = D - d0 < kNR ? D - d0 : kNR;
        for (int64_t p = 0; p < N; ++p, dst += kNR)
            copy_padded(dst, v.data + p * v.row + d0, nv, kNR);
    }
}

// The same for k^T (D, N), the b of q @ k^T: element (p, j) = k(j, p). With k's rows
// contiguous, every 8 whole columns of a panel are 8 x 8 blocks transposed in registers
// (simd_transpose.h), the ragged last panel included (50 tokens: 32 + 16 by blocks, 2 more one
// float at a time); the rest of a panel is zeros.
void pack_kt(Strided k, int64_t N, int64_t D, float* dst) {
    const bool blocks = k.col == 1 && D % 8 == 0;
    for (int64_t j0 = 0; j0 < N; j0 += kNR, dst += D * kNR) {
        const int64_t nv = N - j0 < kNR ? N - j0 : kNR;
        const int64_t jb = blocks ? nv / 8 * 8 : 0;  // columns done by blocks
        for (int64_t j = 0; j < jb; j += 8)
            for (int64_t p = 0; p < D; p += 8)
                simd::transpose8x8(k.data + (j0 + j) * k.row + p, k.row, dst + p * kNR + j, kNR);
        for (int64_t p = 0; p < D; ++p)
            for (int64_t j = jb; j < kNR; ++j) dst[p * kNR + j] = j < nv ? k(j0 + j, p) : 0.0f;
    }
}

// o (rp, D rounded up to its panels) = a (rp, kc) @ vp, the panels of pack_v; returns the
// distance between o's rows. a(r, p) for rows r0 .. r0 + MR comes from rows_at(r0).
template <class RowsAt>
int64_t out_product(int64_t rp, int64_t kc, int64_t D, RowsAt rows_at, const float* vp, float* o) {
    if (narrow(D)) {
        for (int64_t r = 0; r < rp; r += kMR)
            simd::register_tile<decltype(rows_at(r)), kMR, kNarrow>(
                kc, rows_at(r), vp, o + r * kNarrow, kNarrow, false, nullptr);
        return kNarrow;
    }
    const int64_t dp = round_up(D, kNR);
    for (int64_t d0 = 0; d0 < dp; d0 += kNR)
        for (int64_t r = 0; r < rp; r += kMR)
            simd::register_tile(kc, rows_at(r), vp + d0 * kc, o + r * dp + d0, dp, false, nullptr);
    return dp;
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
    const int64_t ldo = out_product(
        rows_pad, N, D,
        [&](int64_t r) {
            return simd::StridedRows{s + r * k.n_pad, k.n_pad};
        },
        k.vp, o);
    for (int64_t r = 0; r < rows; ++r) copy(k.out + r * k.ldo, o + r * ldo, D);
}

// ---- backward of one head ----------------------------------------------------------------
// With the probabilities P recomputed as the forward does (same tiles, same softmax):
//   dP = dO v^T,  dS = scale P * (dP - Delta),  Delta_i = dO_i . O_i
//   dv = P^T dO,  dq = dS k,  dk = dS^T q
// Every product is the register tile against a packed b; its a is read in place: q and dO
// rows (copied, with zero rows up to a whole tile), dS rows, or the columns of P and dS for
// P^T and dS^T (the tile broadcasts one a(r, p) at a time, so a column is as good as a row).
// A head of vit_fmnist (N = 50, D = 16) needs about 45 KB of scratch: it stays in L2.
// Sizes: rp = N rounded up to whole tile rows, np to whole panels, dp = D to whole panels;
// P and dS are (rp, ld) with ld >= np and >= rp, so that their columns can be read as rows.
struct BackwardLayout {
    int64_t rp, np, dp, ld;
    int64_t qr, dor, kt, vt, kp, qp, dop, p, ds, o, total;  // offsets, in floats
    BackwardLayout(int64_t N, int64_t D)
        : rp(round_up(N, kMR)), np(round_up(N, kNR)), dp(round_up(D, kNR)), ld(round_up(rp, kNR)) {
        if (ld < np) ld = np;
        int64_t at = 0;
        const auto take = [&](int64_t n) {
            const int64_t here = at;
            at += round_up(n, 16);  // 64-byte steps between the buffers
            return here;
        };
        qr = take(rp * D), dor = take(rp * D), kt = take(D * np), vt = take(D * np);
        kp = take(N * dp), qp = take(N * dp), dop = take(N * dp);
        p = take(rp * ld), ds = take(rp * ld), o = take(rp * dp);
        total = at + 1;
    }
};

int64_t backward_scratch(int64_t N, int64_t D) {
    return BackwardLayout(N, D).total;
}

// a(r, p) = m(p, r): the columns of m, rows ld apart, as the rows of a.
struct ColumnsAsRows {
    const float* m;
    int64_t ld;
    float operator()(int64_t r, int64_t p) const { return m[p * ld + r]; }
};

// rows (rp, D) contiguous from m (N, D), zero rows past N.
void rows_of(Strided m, int64_t N, int64_t D, int64_t rp, float* dst) {
    for (int64_t r = 0; r < rp; ++r)
        if (r < N && m.col == 1)
            copy(dst + r * D, m.data + r * m.row, D);
        else
            for (int64_t d = 0; d < D; ++d) dst[r * D + d] = r < N ? m(r, d) : 0.0f;
}

// c (rp, cols_pad), rows ldc apart, = a (rp, kc) @ the packed panels b (kc rows per panel).
template <class A>
void product(int64_t rp, int64_t cols_pad, int64_t kc, A a, const float* b, float* c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < cols_pad; j0 += kNR)
        for (int64_t r = 0; r < rp; r += kMR) {
            A rows = a;
            rows.advance(r);
            simd::register_tile(kc, rows, b + j0 * kc, c + r * ldc + j0, ldc, false, nullptr);
        }
}

// Row r of a for the tile: StridedRows from row r.
struct RowsFrom {
    simd::StridedRows s;
    void advance(int64_t r) { s.a += r * s.lda; }
    float operator()(int64_t r, int64_t p) const { return s(r, p); }
};

// The valid (N, D) corner of o (rp, dp) into dst, rows ld apart.
void store_rows(const float* o, int64_t N, int64_t D, int64_t dp, float* dst, int64_t ld) {
    for (int64_t i = 0; i < N; ++i) copy(dst + i * ld, o + i * dp, D);
}

void attention_backward_head(const AttentionBackwardHead& h) {
    const int64_t N = h.N, D = h.D;
    const BackwardLayout L(N, D);
    float* s = h.scratch;
    float *qr = s + L.qr, *dor = s + L.dor, *kt = s + L.kt, *vt = s + L.vt;
    float *kp = s + L.kp, *qp = s + L.qp, *dop = s + L.dop;
    float *P = s + L.p, *dS = s + L.ds, *o = s + L.o;

    rows_of(h.q, N, D, L.rp, qr);
    rows_of(h.dout, N, D, L.rp, dor);
    pack_kt(h.k, N, D, kt);  // b of q @ k^T
    pack_kt(h.v, N, D, vt);  // b of dO @ v^T
    product(L.rp, L.np, D, RowsFrom{{qr, D}}, kt, P, L.ld);
    for (int64_t i = 0; i < N; ++i) softmax_kernels.scaled_row(P + i * L.ld, N, h.scale);
    product(L.rp, L.np, D, RowsFrom{{dor, D}}, vt, dS, L.ld);  // dP for now
    // Columns np .. ld (when rp > np) are read as rows of P^T and dS^T past N: zero them.
    for (int64_t i = 0; i < L.rp; ++i)
        for (int64_t j = L.np; j < L.ld; ++j) P[i * L.ld + j] = dS[i * L.ld + j] = 0.0f;
    // dS = scale P (dP - Delta) over all (rp, np): P is 0 past N in both directions.
    for (int64_t i = 0; i < L.rp; ++i) {
        float delta = 0.0f;
        if (i < N && h.dout.col == 1 && h.out.col == 1)
            delta = dot(h.dout.data + i * h.dout.row, h.out.data + i * h.out.row, D);
        else
            for (int64_t d = 0; i < N && d < D; ++d) delta += h.dout(i, d) * h.out(i, d);
        const simd::Vec vd = simd::splat(delta), vs = simd::splat(h.scale);
        for (int64_t j = 0; j < L.np; j += simd::kLanes) {
            float* row = dS + i * L.ld + j;
            simd::store(row, simd::mul(simd::mul(simd::load(P + i * L.ld + j), vs),
                                       simd::sub(simd::load(row), vd)));
        }
    }
    pack_v(h.dout, N, D, dop);
    pack_v(h.k, N, D, kp);
    pack_v(h.q, N, D, qp);
    const int64_t ld = L.ld;
    const auto columns_of = [ld](const float* m) {
        return [m, ld](int64_t r) { return ColumnsAsRows{m + r, ld}; };
    };
    // dv = P^T dO, dq = dS k, dk = dS^T q
    int64_t ldo = out_product(L.rp, N, D, columns_of(P), dop, o);
    store_rows(o, N, D, ldo, h.dv, h.ldv);
    ldo = out_product(
        L.rp, N, D,
        [&](int64_t r) {
            return simd::StridedRows{dS + r * ld, ld};
        },
        kp, o);
    store_rows(o, N, D, ldo, h.dq, h.ldq);
    ldo = out_product(L.rp, N, D, columns_of(dS), qp, o);
    store_rows(o, N, D, ldo, h.dk, h.ldk);
}

// ---- a whole small head at once, the query index in the lanes --------------------------------
// For heads whose D is 1 to 4 whole registers (vit_fmnist: N = 50, D = 16, one AVX-512 register),
// the tiles above pad both sides of every (N, N) product to the tile (50 -> 60 rows, 64
// columns) and a head's (N, D) products to 32 columns. Here the scores are kept transposed,
//   S^T (N, ld) = k @ q^T      row j = one key, the N queries across the lanes (ld = N
//                              rounded up to a register: 64 floats, 4 AVX-512 registers)
// so that only the query side is padded, and the softmax over the keys j of each query runs
// *down* the columns: its max and sum are plain register operations across rows, never a sum
// across the lanes of one register. Every product that ends in D columns takes its rows
// exactly, with no padding at all: a row of the result (D floats) is D / L registers, and the
// row's factor is one float of P or dS broadcast:
//   out = P @ v        a(i, j) = P^T[j][i], a column of P^T;  b = v's rows, read in place
//   dv  = P^T @ dO     a(j, i) = P^T[j][i], a row of P^T;     b = dO's rows
//   dk  = dS^T @ q     a(j, i) = dS^T[j][i];                  b = q's rows
//   dq  = dS @ k       a(i, j) = dS^T[j][i], a column;        b = k's rows
// with the results written straight into out / d(qkv) (tiles of R rows, then 8, 4, 2, 1 rows
// for the rest). The two score-like products, S^T = k @ q^T and dP^T = v @ dO^T, read k and v
// rows in place and q^T, dO^T transposed into (D, ld) scratch (8 x 8 blocks in registers).
//
//              q^T or v rows (p, L*V)
//            +--------------------+
//  a rows(R) | acc (R, V regs)    |   R = min(12, accumulators / V): AVX-512 24 accumulators,
//            +--------------------+   AVX2 12 (register_tile.h's register budget)
// Scratch per head (floats): q^T and dO^T (D, ld), P^T and dS^T (N, ld), Delta (ld), and
// compact copies of q, k, dO (N, D): 44 KB for N = 50, D = 16, L1 and a little of L2.

constexpr int kAccumulators = static_cast<int>(kMR * kNR / simd::kLanes);
constexpr int kMaxHeadVecs = 4;  // D up to 4 registers
constexpr int tile_rows(int vecs) {
    return kAccumulators / vecs < 12 ? kAccumulators / vecs : 12;
}
// Score tiles: as wide as leaves about 6 rows (AVX-512: 6 x 4 registers).
constexpr int kScoreVecs = kAccumulators / 6 < 1              ? 1
                           : kAccumulators / 6 > kMaxHeadVecs ? kMaxHeadVecs
                                                              : kAccumulators / 6;

bool head_fits(int64_t D) {
    return D > 0 && D % simd::kLanes == 0 && D / simd::kLanes <= kMaxHeadVecs;
}

int64_t lanes_up(int64_t N) {
    return round_up(N, simd::kLanes);
}

// a(r, p) = m[r * ld + p]: rows of m.
struct Rows {
    const float* m;
    int64_t ld;
    float operator()(int64_t r, int64_t p) const { return m[r * ld + p]; }
    Rows from(int64_t r) const { return {m + r * ld, ld}; }
};
// a(r, p) = m[p * ld + r]: the columns of m as rows.
struct Columns {
    const float* m;
    int64_t ld;
    float operator()(int64_t r, int64_t p) const { return m[p * ld + r]; }
    Columns from(int64_t r) const { return {m + r, ld}; }
};

// c (rows, V registers), rows ldc apart, = a (rows, kc) @ b (kc, V registers), b's rows ldb
// apart: whole tiles of R rows, then the rest (< R <= 12) as 8, 4, 2 and 1 rows.
template <int V, class A>
void rows_product(int64_t rows, int64_t kc, A a, const float* b, int64_t ldb, float* c,
                  int64_t ldc) {
    constexpr int R = tile_rows(V), C = V * static_cast<int>(simd::kLanes);
    int64_t r = 0;
    for (; r + R <= rows; r += R)
        simd::register_tile<A, R, C>(kc, a.from(r), b, c + r * ldc, ldc, false, nullptr, ldb);
    if (R > 8 && rows - r >= 8) {
        simd::register_tile<A, 8, C>(kc, a.from(r), b, c + r * ldc, ldc, false, nullptr, ldb);
        r += 8;
    }
    if (R > 4 && rows - r >= 4) {
        simd::register_tile<A, 4, C>(kc, a.from(r), b, c + r * ldc, ldc, false, nullptr, ldb);
        r += 4;
    }
    if (R > 2 && rows - r >= 2) {
        simd::register_tile<A, 2, C>(kc, a.from(r), b, c + r * ldc, ldc, false, nullptr, ldb);
        r += 2;
    }
    if (rows - r >= 1)
        simd::register_tile<A, 1, C>(kc, a.from(r), b, c + r * ldc, ldc, false, nullptr, ldb);
}

// c (rows, vecs registers) = a (rows, kc) @ b (kc, vecs registers), in column strips of at
// most `strip` registers.
template <class A>
void head_product(int64_t rows, int64_t vecs, int strip, int64_t kc, A a, const float* b,
                  int64_t ldb, float* c, int64_t ldc) {
    for (int64_t v0 = 0; v0 < vecs; v0 += strip) {
        const int64_t w = vecs - v0 < strip ? vecs - v0 : strip;
        const float* bs = b + v0 * simd::kLanes;
        float* cs = c + v0 * simd::kLanes;
        switch (w) {
            case 1:
                rows_product<1>(rows, kc, a, bs, ldb, cs, ldc);
                break;
            case 2:
                rows_product<2>(rows, kc, a, bs, ldb, cs, ldc);
                break;
            case 3:
                rows_product<3>(rows, kc, a, bs, ldb, cs, ldc);
                break;
            default:
                rows_product<4>(rows, kc, a, bs, ldb, cs, ldc);
                break;
        }
    }
}

// dst (D, ld): dst[d * ld + i] = m(i, d) * scale for i < N, 0 for N <= i < ld (ld whole
// registers). With AVX2 / AVX-512 and whole 8-float row pieces: 8 x 8 blocks transposed in
// registers, rows past N loaded as zeros, so every store is a whole register (simd_transpose.h).
void pack_transposed(Strided m, int64_t N, int64_t D, int64_t ld, float* dst, float scale = 1.0f) {
#if defined(VITLAB_CPU_TRANSPOSE8)
    if (m.col == 1 && D % 8 == 0) {
        const __m256 vscale = _mm256_set1_ps(scale);
        for (int64_t i0 = 0; i0 < ld; i0 += 8)
            for (int64_t d0 = 0; d0 < D; d0 += 8) {
                __m256 r[8];
                for (int k = 0; k < 8; ++k)
                    r[k] = i0 + k < N ? _mm256_mul_ps(
                                            _mm256_loadu_ps(m.data + (i0 + k) * m.row + d0), vscale)
                                      : _mm256_setzero_ps();
                simd::transpose8(r);
                for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (d0 + k) * ld + i0, r[k]);
            }
        return;
    }
#endif
    for (int64_t d = 0; d < D; ++d)
        for (int64_t i = 0; i < ld; ++i) dst[d * ld + i] = i < N ? m(i, d) * scale : 0.0f;
}

// s (N, ld), rows ld apart: each column i becomes softmax(s[.][i]) down the N rows. Two
// running maxima (the vmax chain is the long one), then e = exp(x - max) and the sum. Then
// either the scaling by 1 / sum, or (inv not null) inv[i] = 1 / sum and s keeps e: the forward
// scales its D-wide output rows instead of the N-long columns.
void softmax_down(float* s, int64_t N, int64_t ld, float* inv = nullptr) {
    constexpr float kInf = __builtin_huge_valf();
    for (int64_t i = 0; i < ld; i += simd::kLanes) {
        float* col = s + i;
        simd::Vec m0 = simd::splat(-kInf), m1 = m0;
        int64_t j = 0;
        for (; j + 1 < N; j += 2) {
            m0 = simd::vmax(m0, simd::load(col + j * ld));
            m1 = simd::vmax(m1, simd::load(col + (j + 1) * ld));
        }
        if (j < N) m0 = simd::vmax(m0, simd::load(col + j * ld));
        const simd::Vec m = simd::vmax(m0, m1);
        simd::Vec sum = simd::splat(0.0f);
        for (j = 0; j < N; ++j) {
            const simd::Vec e = simd::exp_nonpositive(simd::sub(simd::load(col + j * ld), m));
            simd::store(col + j * ld, e);
            sum = simd::add(sum, e);
        }
        const simd::Vec r = simd::div(simd::splat(1.0f), sum);
        if (inv) {
            simd::store(inv + i, r);
            continue;
        }
        for (j = 0; j < N; ++j) simd::store(col + j * ld, simd::mul(simd::load(col + j * ld), r));
    }
}

// P^T (N, ld) of one head into p: k @ (q * scale)^T (the scale on q, as the naive version),
// then the softmax down the columns (unnormalised, see softmax_down, when inv is not null).
void probabilities_transposed(Strided q, Strided k, int64_t N, int64_t D, float scale, float* qt,
                              float* p, float* inv = nullptr) {
    const int64_t ld = lanes_up(N);
    pack_transposed(q, N, D, ld, qt, scale);
    head_product(N, ld / simd::kLanes, kScoreVecs, D, Rows{k.data, k.row}, qt, ld, p, ld);
    softmax_down(p, N, ld, inv);
}

int64_t head_scratch(int64_t N, int64_t D) {
    const int64_t ld = lanes_up(N);
    return 2 * D * ld + 2 * N * ld + ld + 3 * N * D;
}

// m (N, D) into dst, rows D apart. The rows of q, k, v in qkv (and of out, dO) are a qkv row
// apart, which puts every head's rows of all of them into the same 16 of L1's 64 sets; the
// products that read a head's rows again and again (as b) read this copy instead.
const float* compact(Strided m, int64_t N, int64_t D, float* dst) {
    for (int64_t i = 0; i < N; ++i) copy(dst + i * D, m.data + i * m.row, D);
    return dst;
}

// One whole head, forward (kernels.h: AttentionHead).
void attend_head(const AttentionHead& h) {
    const int64_t N = h.N, D = h.D, ld = lanes_up(N);
    float* qt = h.scratch;    // (D, ld)
    float* e = qt + D * ld;   // (N, ld): exp(S - max)^T, P^T but for the 1 / sum
    float* vc = e + N * ld;   // (N, D): v
    float* inv = vc + N * D;  // (ld): 1 / sum of each query's row
    const float* v = compact(h.v, N, D, vc);
    probabilities_transposed(h.q, h.k, N, D, h.scale, qt, e, inv);
    // out_i = (sum_j e_ji v_j) / sum_i: the division on the D floats of the output row
    head_product(N, D / simd::kLanes, kMaxHeadVecs, N, Columns{e, ld}, v, D, h.out, h.ldo);
    for (int64_t i = 0; i < N; ++i) {
        const simd::Vec r = simd::splat(inv[i]);
        for (int64_t d = 0; d < D; d += simd::kLanes)
            simd::store(h.out + i * h.ldo + d, simd::mul(simd::load(h.out + i * h.ldo + d), r));
    }
    if (h.probs)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j) h.probs[i * N + j] = e[j * ld + i] * inv[i];
}

// One whole head, backward (formulas in scaled_dot_product_attention_backward.h).
void backward_whole_head(const AttentionBackwardHead& h) {
    const int64_t N = h.N, D = h.D, ld = lanes_up(N), vecs = ld / simd::kLanes;
    float* qt = h.scratch;        // (D, ld): q^T, then
    float* dout_t = qt + D * ld;  // (D, ld): dO^T
    float* p = dout_t + D * ld;   // (N, ld): P^T
    float* ds = p + N * ld;       // (N, ld): dP^T, then dS^T
    float* delta = ds + N * ld;   // (ld): Delta_i = dO_i . O_i, 0 past N
    float* rows = delta + ld;     // 3 (N, D): q, k, dO
    const float* q = compact(h.q, N, D, rows);
    const float* k = compact(h.k, N, D, rows + N * D);
    const float* dout = compact(h.dout, N, D, rows + 2 * N * D);
    probabilities_transposed({q, D, 1}, {k, D, 1}, N, D, h.scale, qt, p);
    pack_transposed({dout, D, 1}, N, D, ld, dout_t);
    head_product(N, vecs, kScoreVecs, D, Rows{h.v.data, h.v.row}, dout_t, ld, ds, ld);  // dP^T
    for (int64_t i = 0; i < ld; ++i)
        delta[i] = i < N ? dot(dout + i * D, h.out.data + i * h.out.row, D) : 0.0f;
    // dS^T = scale P^T (dP^T - Delta), Delta across the lanes
    const simd::Vec vs = simd::splat(h.scale);
    for (int64_t j = 0; j < N; ++j)
        for (int64_t i = 0; i < ld; i += simd::kLanes) {
            float* row = ds + j * ld + i;
            simd::store(row, simd::mul(simd::mul(simd::load(p + j * ld + i), vs),
                                       simd::sub(simd::load(row), simd::load(delta + i))));
        }
    const int64_t dv = D / simd::kLanes;
    head_product(N, dv, kMaxHeadVecs, N, Rows{p, ld}, dout, D, h.dv, h.ldv);
    head_product(N, dv, kMaxHeadVecs, N, Rows{ds, ld}, q, D, h.dk, h.ldk);
    head_product(N, dv, kMaxHeadVecs, N, Columns{ds, ld}, k, D, h.dq, h.ldq);
}

}  // namespace

const AttentionKernels attention_kernels = {kNR,
                                            kRowBlock,
                                            pack_kt,
                                            pack_v,
                                            attend,
                                            backward_scratch,
                                            attention_backward_head,
                                            head_fits,
                                            head_scratch,
                                            attend_head,
                                            backward_whole_head};

}  // namespace vitlab::cpu::VITLAB_CPU_NS
