// scaled_dot_product_attention_blocked.cpp: the same numbers as the naive version, one head and
// one block of R query rows at a time (ViT-B/16 at 384 px: N = 577 tokens, D = 64,
// R = 8 * MR = 48 rows with AVX2):
//
//   for each (batch b, head h):
//     kt = pack(k^T)          (D, N)  in NR-column panels    148 KB  } packed once per head,
//     vp = pack(v)            (N, D)  in NR-column panels    148 KB  } then stay in L2
//     for each block of R query rows i0 .. i0 + R:
//       s = q[i0:i0+R] @ k^T                      (R, N)     113 KB, stays in L2
//       s = softmax(s * scale, dim = -1)          row by row, in place
//       out[b, i0:i0+R, h*D:(h+1)*D] = s @ v      (R, D)     into the merged (B, N, H*D)
//
// so a score is written once, into the cache, and read twice from it. The packing and the
// block of rows are kernels of the chosen instruction set (tensor/cpu/attention_kernels.cpp);
// both products use matmul's register tile (tensor/cpu/register_tile.h): an (MR, NR) block of
// the result stays in registers while p runs over the sum; each step loads NR floats of the
// packed b panel and broadcasts one float from each of the MR rows of a:
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
//
// Heads of at most kWholeHeadTokens tokens whose D is 1 to 4 registers (vit_fmnist: 50 x 16)
// take the whole-head kernel instead: one task per (b, h), scores transposed (query index in
// the lanes), no panel padding; attention_kernels.cpp draws it.
#include <algorithm>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/ops/scaled_dot_product_attention.h"
#include "tensor/ops/scaled_dot_product_attention_internal.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

using cpu::Strided;

int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

// One head's q, k or v (N, D): element (i, d) at data[i * row + d * col].
Strided head_view(const Tensor& t, int64_t b, int64_t h) {
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

// Up to this many tokens a head's (N, N) scores fit in L2 at once: the whole-head kernel.
constexpr int64_t kWholeHeadTokens = 256;

float* reserve(std::vector<float>& buffer, int64_t n) {
    n = std::max<int64_t>(n, 1);  // never a null data(), even for an empty head
    if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(n);
    return buffer.data();
}

}  // namespace

Tensor scaled_dot_product_attention_blocked(const Tensor& q, const Tensor& k, const Tensor& v,
                                            std::optional<float> scale, Tensor* attn_probs) {
    detail::check_attention_args("scaled_dot_product_attention_blocked", q, k, v);
    const float s = detail::attention_scale(scale, q);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    Tensor merged = empty({B, N, H * D});  // the heads side by side, as a layer merges them
    Tensor out = merged.view({B, N, H, D}).transpose(1, 2);  // (B, H, N, D)
    Tensor probs = attn_probs ? empty({B, H, N, N}) : Tensor();
    if (attn_probs) *attn_probs = probs;
    if (B == 0 || H == 0 || N == 0) return out;

    const cpu::AttentionKernels& ak = cpu::kernels().attention;
    if (detail::whole_heads({&q, &k, &v}) && N <= kWholeHeadTokens) {
        // A head at a time (attention_kernels.cpp, "a whole small head at once").
        const int64_t scratch = ak.head_scratch(N, D);
        const int64_t head_work = 2 * N * N * D;  // multiply-adds
        parallel_for(
            0, B * H, ceil_div(kGrainMultiplyAdds, head_work), [&](int64_t t0, int64_t t1) {
                static thread_local std::vector<float> buffer;
                cpu::AttentionHead job;
                job.N = N, job.D = D, job.scale = s, job.scratch = reserve(buffer, scratch);
                job.ldo = H * D;
                for (int64_t t = t0; t < t1; ++t) {
                    const int64_t b = t / H, h = t % H;
                    job.q = head_view(q, b, h), job.k = head_view(k, b, h),
                    job.v = head_view(v, b, h);
                    job.out = merged.data() + b * N * H * D + h * D;
                    job.probs = attn_probs ? probs.data() + t * N * N : nullptr;
                    if (t + 1 < t1)
                        for (const Tensor* next : {&q, &k, &v})
                            detail::prefetch_head(*next, (t + 1) / H, (t + 1) % H);
                    ak.attend_head(job);
                }
            });
        return out;
    }
    const int64_t n_pad = round_up(N, ak.nr), d_pad = round_up(D, ak.nr);
    const int64_t blocks = (N + ak.row_block - 1) / ak.row_block;  // row blocks per head
    auto run_tasks = [&](int64_t t0, int64_t t1) {
        Scratch& sc = Scratch::of_this_thread();
        cpu::AttentionBlock job;
        job.N = N, job.D = D, job.n_pad = n_pad, job.d_pad = d_pad, job.scale = s;
        job.kt = reserve(sc.kt, D * n_pad);
        job.vp = reserve(sc.vp, N * d_pad);
        job.q_rows = reserve(sc.q_rows, ak.row_block * D);
        job.scores = reserve(sc.scores, ak.row_block * n_pad);
        job.o = reserve(sc.out, ak.row_block * d_pad);
        job.ldo = H * D;
        int64_t packed = -1;  // the (b, h) whose k and v are in sc.kt and sc.vp
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bh = t / blocks, b = bh / H, h = bh % H;
            if (bh != packed) {
                ak.pack_kt(head_view(k, b, h), N, D, sc.kt.data());  // b of q @ k^T
                ak.pack_v(head_view(v, b, h), N, D, sc.vp.data());   // b of s @ v
                packed = bh;
            }
            job.q = head_view(q, b, h);
            job.i0 = t % blocks * ak.row_block;
            job.rows = std::min(ak.row_block, N - job.i0);
            job.out = merged.data() + (b * N + job.i0) * H * D + h * D;
            job.probs = attn_probs ? probs.data() + (bh * N + job.i0) * N : nullptr;
            ak.attend(job);
        }
    };
    const int64_t tasks = B * H * blocks;
    const int64_t task_work = 2 * ak.row_block * N * std::max<int64_t>(D, 1);  // multiply-adds
    parallel_for(0, tasks, ceil_div(kGrainMultiplyAdds, task_work), run_tasks);
    return out;
}

}  // namespace vitlab
