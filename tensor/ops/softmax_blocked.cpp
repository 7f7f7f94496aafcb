// softmax_blocked.cpp: softmax on contiguous memory with SIMD and threads.
//
// The same three passes as softmax_naive.cpp, each now a streaming loop over whole registers
// (the register vocabulary and exp_approx come from simd.h, read it first):
//   1. m   = max_i x_i                      kLanes running maxima, reduced once at the end
//   2. e_i = exp(x_i - m), s = sum_i e_i    e is written to out; kLanes running sums
//   3. out_i = e_i * (1 / s)
// A row of attention scores (577 floats, 2.3 KB) stays in L1 between the passes, so memory
// sees one read of x and one write of out; the time goes into exp (about 15 register
// operations per kLanes values). softmax_ writes the result over x: no second 16 MB buffer
// for the (12, 577, 577) scores of a ViT-B/16 block at 384 px. A fresh buffer of that size
// costs more than the softmax itself when its pages are new to the process (the operating
// system maps and zeroes each 4 KB page on its first write: see bench/bench_ops.cpp).
//
// After x.contiguous(), view x as (outer, n, inner) where n is the size of `dim`:
//   - inner == 1 (dim is the last one, e.g. attention scores (B, heads, N, N) over dim -1):
//     every row is n contiguous floats. Threads take whole rows.
//   - inner > 1: the row of element (o, :, j) has stride `inner`. Rather than gathering it,
//     run the three passes on a block of up to kColumns neighbouring columns at once: each
//     step reads `inner`-contiguous floats, so the same registers do the work; m and s become
//     one value per column. Threads take (o, column block) pairs.
//
// exp_approx is within 2 ulp of exp (simd.h); it gives exactly 0 for -inf (masked scores)
// and for x - m below -88, so those probabilities are exactly 0.
#include <algorithm>
#include <functional>
#include <limits>

#include "tensor/ops/simd.h"
#include "tensor/ops/softmax.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

using namespace simd;

// ---- the three passes ----------------------------------------------------------------------
constexpr float kInf = std::numeric_limits<float>::infinity();

// out = softmax(x) of one contiguous row of n floats (n >= 1); out may be x itself (softmax_).
// While pass 2 computes exp (no memory traffic: the row is in L1), it prefetches `next`, the
// row that comes after it (or nullptr): pass 1 of that row then finds it in cache instead of
// waiting on memory. Measured on (12, 577, 577), one thread: about 8% faster.
void softmax_row(const float* x, float* out, int64_t n, const float* next) {
    const int64_t full = n - n % kLanes, rest = n - full;  // whole registers, then a tail

    Vec vm = splat(-kInf);
    for (int64_t i = 0; i < full; i += kLanes) vm = vmax(vm, load(x + i));
    if (rest) vm = vmax(vm, load_part(x + full, rest, -kInf));
    const Vec m = splat(max_lanes(vm));

    Vec vs = splat(0.0f);
    for (int64_t i = 0; i < full; i += kLanes) {
        if (next) prefetch(next + i);
        const Vec e = exp_approx(sub(load(x + i), m));
        store(out + i, e);
        vs = add(vs, e);
    }
    if (next)
        for (int64_t i = full; i < n; i += 16) prefetch(next + i);
    if (rest) {  // the -inf fill lanes give exp = 0 and add nothing
        const Vec e = exp_approx(sub(load_part(x + full, rest, -kInf), m));
        store_part(out + full, e, rest);
        vs = add(vs, e);
    }

    const float inv = 1.0f / sum_lanes(vs);
    const Vec vinv = splat(inv);
    for (int64_t i = 0; i < full; i += kLanes) store(out + i, mul(load(out + i), vinv));
    for (int64_t i = full; i < n; ++i) out[i] *= inv;
}

constexpr int64_t kColumns = 64;  // columns per block: m and s stay in registers / L1

// softmax down each of the w <= kColumns columns of an (n, w) block whose rows are ld apart.
void softmax_columns(const float* x, float* out, int64_t n, int64_t w, int64_t ld) {
    alignas(64) float m[kColumns], s[kColumns];
    std::fill(m, m + kColumns, -kInf);
    std::fill(s, s + kColumns, 0.0f);
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; j += kLanes) {
            const int64_t c = std::min(kLanes, w - j);
            store(m + j, vmax(load(m + j), load_part(x + r * ld + j, c, -kInf)));
        }
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; j += kLanes) {
            const int64_t c = std::min(kLanes, w - j);
            const Vec e = exp_approx(sub(load_part(x + r * ld + j, c, 0.0f), load(m + j)));
            store_part(out + r * ld + j, e, c);
            store(s + j, add(load(s + j), e));
        }
    for (int64_t j = 0; j < w; ++j) s[j] = 1.0f / s[j];
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; ++j) out[r * ld + j] *= s[j];
}

// Below this many elements, starting threads costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

void run(int64_t tasks, int64_t elements, const std::function<void(int64_t, int64_t)>& fn) {
    if (elements < kParallelMin) return fn(0, tasks);
    parallel_for(0, tasks, fn);
}

// dst = softmax(src) along dim d of a contiguous tensor of shape `shape`; dst may be src.
void softmax_contiguous(const float* src, float* dst, const Shape& shape, int64_t d) {
    const int64_t numel = vitlab::numel(shape);
    if (numel == 0) return;
    // (outer, n, inner) around dim d.
    const int64_t n = shape[d];
    int64_t inner = 1;
    for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
    const int64_t outer = numel / (n * inner);

    if (inner == 1) {
        run(outer, numel, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r)
                softmax_row(src + r * n, dst + r * n, n, r + 1 < end ? src + (r + 1) * n : nullptr);
        });
        return;
    }
    const int64_t blocks = (inner + kColumns - 1) / kColumns;
    run(outer * blocks, numel, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int64_t o = t / blocks, j = t % blocks * kColumns;
            const int64_t offset = o * n * inner + j;
            softmax_columns(src + offset, dst + offset, n, std::min(kColumns, inner - j), inner);
        }
    });
}

}  // namespace

Tensor softmax_blocked(const Tensor& x, int64_t dim) {
    // A 0-d tensor is a row of one element, as in torch (dim 0 or -1).
    if (x.dim() == 0)
        return softmax_blocked(x.reshape(Shape{1}), wrap_dim(dim, 1, "softmax")).reshape(Shape{});
    const int64_t d = wrap_dim(dim, x.dim(), "softmax");
    const Tensor in = x.contiguous();
    Tensor out = empty(x.shape());
    softmax_contiguous(in.data(), out.data(), x.shape(), d);
    return out;
}

Tensor& softmax_(Tensor& x, int64_t dim) {
    const int64_t d = wrap_dim(dim, std::max<int64_t>(x.dim(), 1), "softmax_");
    check_writable(x, "softmax_");
    if (!x.is_contiguous()) return x.copy_(softmax_blocked(x, d));  // a view: compute, copy back
    const Shape shape = x.dim() == 0 ? Shape{1} : x.shape();
    softmax_contiguous(x.data(), x.data(), shape, d);
    return x;
}

}  // namespace vitlab
