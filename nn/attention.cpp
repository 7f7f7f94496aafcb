// attention.cpp: multi-head self-attention; the steps follow the formula in attention.h.
//
// attention_heads_naive is that formula, four lines of matmul and softmax. It builds all the
// scores at once: (B, H, N, N) floats, 16 MB for ViT-B at 384 px (N = 577, 12 heads), far
// more than any cache, so they are written to memory, read back by softmax, written again,
// and read once more by attn @ v.
//
// attention_heads_blocked computes the same numbers, one head and one block of R query rows
// at a time (ViT-B/16 at 384 px: N = 577 tokens, D = 64, R = 8 * MR = 48 rows with AVX2):
//
//   for each (batch b, head h):
//     kt = pack(k^T)          (D, N)  in NR-column panels    148 KB  } packed once per head,
//     vp = pack(v)            (N, D)  in NR-column panels    148 KB  } then stay in L2
//     for each block of R query rows i0 .. i0 + R:
//       s = q[i0:i0+R] @ k^T                      (R, N)     113 KB, stays in L2
//       s = softmax(s * scale, dim = -1)          row by row, in place
//       out[b, i0:i0+R, h*D:(h+1)*D] = s @ v      (R, D)     into the merged (B, N, H*D)
//
// so a score is written once, into the cache, and read twice from it. Both products use a
// register tile like matmul_blocked.cpp's: an (MR, NR) block of the result stays in registers
// while p runs over the sum; each step loads NR floats of the packed b panel and broadcasts
// one float from each of the MR rows of a:
//
//              b panel (p, NR): NR / L registers
//            +----------------+
//     a (MR) | acc (MR, NR)   |   MR * NR / L registers   AVX2: 6 x 16, 12 of the 16 ymm
//            +----------------+                           AVX-512: 12 x 32, 24 of 32 zmm
//
// a is read in place (the q rows, then the score rows): each row is reused by every panel.
// Threads share out the (b, h, row block) tasks in contiguous runs, so with 12 heads and 2
// threads each thread takes 6 whole heads; a thread packs k and v when its run enters a head.
// Each output element comes from one task in a fixed order: 1 or 2 threads give the same bits.
#include "nn/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/ops.h"
#include "tensor/ops/simd.h"
#include "tensor/ops/simd_transpose.h"

namespace vitlab::nn {

// ---- the naive version: the formula as written --------------------------------------------

static void check_heads(const Tensor& q, const Tensor& k, const Tensor& v) {
    if (q.dim() != 4 || k.shape() != q.shape() || v.shape() != q.shape())
        throw ShapeError("attention_heads: expected q, k, v of the same shape (B, H, N, D), got " +
                         to_string(q.shape()) + ", " + to_string(k.shape()) + ", " +
                         to_string(v.shape()));
}

Tensor attention_heads_naive(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                             Tensor* attn_probs) {
    check_heads(q, k, v);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    Tensor attn = matmul(q * scale, k.transpose(-2, -1), Kernel::Naive);  // (B, H, N, N)
    attn = softmax(attn, -1, Kernel::Naive);
    if (attn_probs) *attn_probs = attn;
    Tensor out = matmul(attn, v, Kernel::Naive);        // (B, H, N, D)
    return out.transpose(1, 2).reshape({B, N, H * D});  // (B, N, H, D) -> (B, N, H*D)
}

// ---- the blocked version ------------------------------------------------------------------

namespace {

using simd::kLanes;
using simd::Vec;

// The register tile (see the drawing): kMR rows of kVecs registers each.
constexpr int64_t kVecs = kLanes == 1 ? 8 : 2;  // portable: 8 plain floats a row
constexpr int64_t kNR = kVecs * kLanes;         // 16 with AVX2, 32 with AVX-512
constexpr int64_t kMR = kLanes == 16 ? 12 : kLanes == 8 ? 6 : 4;
constexpr int64_t kRowBlock = 8 * kMR;  // query rows per task: (R, N) scores fit in L2
// Fewer multiply-adds than this in all run on one thread (waking the pool costs more).
constexpr int64_t kMinParallelWork = 64 * 64 * 64;

int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

// c (kMR, kNR), rows ldc apart  =  a (kMR, kc), rows lda apart  @  b (kc, kNR), packed: row p
// of b is the kNR floats at b + p * kNR.
void tile_kernel(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc) {
    Vec acc[kMR][kVecs];
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < kVecs; ++v) acc[r][v] = simd::splat(0.0f);

    for (int64_t p = 0; p < kc; ++p, b += kNR) {
        Vec bv[kVecs];
#pragma GCC unroll 8
        for (int v = 0; v < kVecs; ++v) bv[v] = simd::load(b + v * kLanes);
#pragma GCC unroll 16
        for (int r = 0; r < kMR; ++r) {
            const Vec ar = simd::splat(a[r * lda + p]);
#pragma GCC unroll 8
            for (int v = 0; v < kVecs; ++v) acc[r][v] = simd::fmadd(ar, bv[v], acc[r][v]);
        }
    }

#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < kVecs; ++v) simd::store(c + r * ldc + v * kLanes, acc[r][v]);
}

// One head's q, k or v, (N, D): element (i, d) at data[i * row + d * col].
struct HeadView {
    const float* data;
    int64_t row, col;
    float operator()(int64_t i, int64_t d) const { return data[i * row + d * col]; }
};

HeadView head_view(const Tensor& t, int64_t b, int64_t h) {
    return {t.data() + b * t.stride(0) + h * t.stride(1), t.stride(2), t.stride(3)};
}

// The buffers of one thread, kept between calls (fresh ones would cost page faults).
struct Scratch {
    std::vector<float> kt;      // k^T packed: panel jp holds k[jp*NR + j][p] at p*NR + j
    std::vector<float> vp;      // v packed:   panel dp holds v[p][dp*NR + j] at p*NR + j
    std::vector<float> q_rows;  // (R, D), rows past N are zero
    std::vector<float> scores;  // (R, n_pad)
    std::vector<float> out;     // (R, d_pad)

    static Scratch& of_this_thread() {
        static thread_local Scratch scratch;
        return scratch;
    }
};

float* reserve(std::vector<float>& buffer, int64_t n) {
    n = std::max<int64_t>(n, 1);  // never a null data(), even for an empty head
    if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(n);
    return buffer.data();
}

// Packs b (K, N) of one product into kNR-column panels, zero past column N:
// panel jp holds b(p, jp*kNR + j) at jp*K*kNR + p*kNR + j.
template <class B>
void pack_panels(B b, int64_t K, int64_t N, float* dst) {
    for (int64_t j0 = 0; j0 < N; j0 += kNR) {
        const int64_t nv = std::min(kNR, N - j0);
        for (int64_t p = 0; p < K; ++p, dst += kNR) {
            for (int64_t j = 0; j < nv; ++j) dst[j] = b(p, j0 + j);
            for (int64_t j = nv; j < kNR; ++j) dst[j] = 0.0f;
        }
    }
}

// The same for v (N, D) with contiguous rows (col == 1): a row of a panel is one copy.
void pack_v(HeadView v, int64_t N, int64_t D, float* dst) {
    if (v.col != 1) return pack_panels(v, N, D, dst);
    for (int64_t d0 = 0; d0 < D; d0 += kNR) {
        const int64_t nv = std::min(kNR, D - d0);
        for (int64_t p = 0; p < N; ++p, dst += kNR) {
            std::memcpy(dst, v.data + p * v.row + d0, nv * sizeof(float));
            std::fill(dst + nv, dst + kNR, 0.0f);
        }
    }
}

// The same for k^T (D, N), the b of q @ k^T: element (p, j) = k(j, p). With k's rows
// contiguous, the whole panels are made of 8 x 8 blocks transposed in registers
// (simd_transpose.h); a ragged last panel (577 tokens = 36 panels of 16 and 1 more) goes one
// float at a time.
void pack_kt(HeadView k, int64_t N, int64_t D, float* dst) {
    const int64_t whole = k.col == 1 && D % 8 == 0 ? N / kNR * kNR : 0;  // columns by blocks
    for (int64_t j0 = 0; j0 < whole; j0 += kNR, dst += D * kNR)
        for (int64_t j = 0; j < kNR; j += 8)
            for (int64_t p = 0; p < D; p += 8)
                simd::transpose8x8(k.data + (j0 + j) * k.row + p, k.row, dst + p * kNR + j, kNR);
    pack_panels([&](int64_t p, int64_t j) { return k(whole + j, p); }, D, N - whole, dst);
}

// row[0 .. n) = softmax(row * scale): exp((x - max) * scale) / sum, in place.
void softmax_row(float* row, int64_t n, float scale) {
    using namespace simd;
    const float kInf = std::numeric_limits<float>::infinity();
    const int64_t full = n / kLanes * kLanes, rest = n - full;
    // The largest x * scale: at the largest x, or at the smallest if scale < 0 (the largest
    // -x, times -scale).
    const bool flip = scale < 0.0f;
    const Vec sign = splat(flip ? -1.0f : 1.0f);
    Vec vm = splat(-kInf);
    for (int64_t j = 0; j < full; j += kLanes) vm = vmax(vm, mul(load(row + j), sign));
    if (rest) vm = vmax(vm, mul(load_part(row + full, rest, flip ? kInf : -kInf), sign));
    const float top = max_lanes(vm) * (flip ? -scale : scale);
    // exp(x * scale - top), one fused multiply-add before exp; the argument is <= 0 (or a
    // rounding above it), so exp_nonpositive's missing upper clamp is never needed
    const Vec vscale = splat(scale), shift = splat(-top);
    Vec vsum = splat(0.0f);
    for (int64_t j = 0; j < full; j += kLanes) {
        const Vec e = exp_nonpositive(fmadd(load(row + j), vscale, shift));
        store(row + j, e);
        vsum = add(vsum, e);
    }
    float sum = 0.0f;
    if (rest) {  // the tail's lanes past n are filled with 0 (finite for any scale) and skipped
        const Vec e = exp_nonpositive(fmadd(load_part(row + full, rest, 0.0f), vscale, shift));
        store_part(row + full, e, rest);
        for (int64_t j = full; j < n; ++j) sum += row[j];
    }
    const Vec inv = splat(1.0f / (sum_lanes(vsum) + sum));
    for (int64_t j = 0; j < full; j += kLanes) store(row + j, mul(load(row + j), inv));
    if (rest) store_part(row + full, mul(load_part(row + full, rest, 0.0f), inv), rest);
}

// The sizes of one attention_heads_blocked call.
struct Problem {
    int64_t N, D;
    int64_t n_pad, d_pad;  // N and D rounded up to whole panels
    float scale;
};

// Rows [i0, i0 + rows) of one head: out (rows, D) with rows ldo apart; probs (rows, N) with
// rows N apart, or null. kt and vp are the head's packed k^T and v.
void attend_rows(const Problem& pb, HeadView q, int64_t i0, int64_t rows, Scratch& sc, float* out,
                 int64_t ldo, float* probs) {
    const int64_t N = pb.N, D = pb.D, rows_pad = round_up(rows, kMR);

    // The q rows, contiguous, with zero rows up to a whole tile.
    float* qr = reserve(sc.q_rows, kRowBlock * std::max<int64_t>(D, 1));
    for (int64_t r = 0; r < rows_pad; ++r) {
        if (r < rows && q.col == 1)
            std::memcpy(qr + r * D, q.data + (i0 + r) * q.row, D * sizeof(float));
        else
            for (int64_t d = 0; d < D; ++d) qr[r * D + d] = r < rows ? q(i0 + r, d) : 0.0f;
    }

    // s = q[rows] @ k^T   (rows_pad, n_pad)
    float* s = reserve(sc.scores, kRowBlock * pb.n_pad);
    for (int64_t j0 = 0; j0 < pb.n_pad; j0 += kNR)
        for (int64_t r = 0; r < rows_pad; r += kMR)
            tile_kernel(D, qr + r * D, D, sc.kt.data() + j0 * D, s + r * pb.n_pad + j0, pb.n_pad);

    for (int64_t r = 0; r < rows; ++r) {
        softmax_row(s + r * pb.n_pad, N, pb.scale);
        if (probs) std::memcpy(probs + r * N, s + r * pb.n_pad, N * sizeof(float));
    }

    // out[rows] = s @ v   (rows_pad, d_pad), then the valid part into the merged output
    float* o = reserve(sc.out, kRowBlock * pb.d_pad);
    for (int64_t d0 = 0; d0 < pb.d_pad; d0 += kNR)
        for (int64_t r = 0; r < rows_pad; r += kMR)
            tile_kernel(N, s + r * pb.n_pad, pb.n_pad, sc.vp.data() + d0 * N, o + r * pb.d_pad + d0,
                        pb.d_pad);
    for (int64_t r = 0; r < rows; ++r)
        std::memcpy(out + r * ldo, o + r * pb.d_pad, D * sizeof(float));
}

}  // namespace

Tensor attention_heads_blocked(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                               Tensor* attn_probs) {
    check_heads(q, k, v);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    Tensor out = empty({B, N, H * D});
    Tensor probs = attn_probs ? empty({B, H, N, N}) : Tensor();
    if (attn_probs) *attn_probs = probs;
    if (B == 0 || H == 0 || N == 0) return out;

    const Problem pb{N, D, round_up(N, kNR), round_up(D, kNR), scale};
    const int64_t blocks = (N + kRowBlock - 1) / kRowBlock;  // row blocks per head
    auto run_tasks = [&](int64_t t0, int64_t t1) {
        Scratch& sc = Scratch::of_this_thread();
        int64_t packed = -1;  // the (b, h) whose k and v are in sc.kt and sc.vp
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bh = t / blocks, b = bh / H, h = bh % H;
            if (bh != packed) {
                const HeadView kh = head_view(k, b, h), vh = head_view(v, b, h);
                pack_kt(kh, N, D, reserve(sc.kt, D * pb.n_pad));  // b of q @ k^T
                pack_v(vh, N, D, reserve(sc.vp, N * pb.d_pad));   // b of s @ v
                packed = bh;
            }
            const int64_t i0 = t % blocks * kRowBlock, rows = std::min(kRowBlock, N - i0);
            float* out_rows = out.data() + (b * N + i0) * H * D + h * D;
            float* prob_rows = attn_probs ? probs.data() + (bh * N + i0) * N : nullptr;
            attend_rows(pb, head_view(q, b, h), i0, rows, sc, out_rows, H * D, prob_rows);
        }
    };
    const int64_t tasks = B * H * blocks;
    if (B * H * N * N * std::max<int64_t>(D, 1) < kMinParallelWork || get_num_threads() == 1)
        run_tasks(0, tasks);
    else
        parallel_for(0, tasks, run_tasks);
    return out;
}

Tensor attention_heads(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       Tensor* attn_probs, Kernel kernel) {
    if (resolve(kernel) == Kernel::Naive) return attention_heads_naive(q, k, v, scale, attn_probs);
    return attention_heads_blocked(q, k, v, scale, attn_probs);
}

// ---- the layer ----------------------------------------------------------------------------

static int64_t checked_head_dim(int64_t dim, int64_t num_heads) {
    if (dim <= 0 || num_heads <= 0 || dim % num_heads != 0)
        throw std::invalid_argument(
            "Attention: dim must be a positive multiple of num_heads, "
            "got dim " +
            std::to_string(dim) + " and num_heads " + std::to_string(num_heads));
    return dim / num_heads;
}

Attention::Attention(int64_t dim, int64_t num_heads, bool qkv_bias, Generator& gen)
    : dim(dim),
      num_heads(num_heads),
      head_dim(checked_head_dim(dim, num_heads)),
      scale(1.0f / std::sqrt(float(head_dim))),
      qkv(dim, 3 * dim, qkv_bias, gen),
      proj(dim, dim, true, gen) {
    register_module("qkv", &qkv);
    register_module("proj", &proj);
}

Tensor Attention::forward(const Tensor& x, Tensor* attn_probs) const {
    if (x.dim() != 3 || x.size(2) != dim)
        throw ShapeError("Attention(dim " + std::to_string(dim) +
                         "): expected input of shape (B, N, " + std::to_string(dim) + "), got " +
                         to_string(x.shape()));
    const int64_t B = x.size(0), N = x.size(1);

    // (B, N, 3C) -> (B, N, 3, H, D) -> (3, B, H, N, D): views, nothing is copied.
    Tensor qkv_heads = qkv(x).reshape({B, N, 3, num_heads, head_dim}).permute({2, 0, 3, 1, 4});
    Tensor q = qkv_heads.select(0, 0), k = qkv_heads.select(0, 1), v = qkv_heads.select(0, 2);

    // softmax(q @ k^T * scale) @ v, heads merged: (B, N, C)
    Tensor out = attention_heads(q, k, v, scale, attn_probs);
    return proj(out);
}

}  // namespace vitlab::nn
