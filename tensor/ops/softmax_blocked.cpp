// softmax_blocked.cpp: softmax on contiguous memory with SIMD and threads.
//
// The same three passes as softmax_naive.cpp, each now a streaming loop over whole registers
// (the register vocabulary and exp come from simd.h, read it first):
//   1. m   = max_i x_i                      kLanes running maxima, reduced once at the end
//   2. e_i = exp(x_i - m), s = sum_i e_i    e is written to out; kLanes running sums
//   3. out_i = e_i * (1 / s)
// A row of attention scores (577 floats, 2.3 KB) stays in L1 between the passes, so memory
// sees one read of x and one write of out; the time goes into exp (about 15 register
// operations per kLanes values; x - m <= 0, so simd.h's exp_nonpositive skips the upper
// clamp). softmax_ writes the result over x: no second 16 MB buffer for the (12, 577, 577)
// scores of a ViT-B/16 block at 384 px. A fresh buffer of that size costs more than the
// softmax itself when its pages are new to the process (the operating system maps and zeroes
// each 4 KB page on its first write: see bench/bench_ops.cpp).
//
// After x.contiguous(), view x as (outer, n, inner) where n is the size of `dim`:
//   - inner == 1 (dim is the last one, e.g. attention scores (B, heads, N, N) over dim -1):
//     every row is n contiguous floats. Threads take whole rows, and pipeline the passes of
//     neighbouring rows (softmax_rows below).
//   - inner > 1: the row of element (o, :, j) has stride `inner`. Rather than gathering it,
//     run the three passes on a block of up to kColumns neighbouring columns at once: each
//     step reads `inner`-contiguous floats, so the same registers do the work; m and s become
//     one value per column. Threads take (o, column block) pairs.
//
// exp_approx and exp_nonpositive are within 2 ulp of exp (simd.h); they give exactly 0 for
// -inf (masked scores) and for x - m below -88, so those probabilities are exactly 0.
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

// Rows that are contiguous (dim is the last one) are software-pipelined: one sweep along the
// columns does pass 1 of row r + 1, pass 2 of row r and pass 3 of row r - 1, so the three
// passes of neighbouring rows overlap:
//
//   sweep r:    row r+1: max      row r: exp, sum      row r-1: * 1/sum
//
// Pass 2's exp is a long chain of dependent instructions (about 45 cycles from load to
// result); on its own, a row's exp loop waits on those chains, then waits again for the sum
// before pass 3 can start. Interleaved, the max and the scaling of the other rows fill the
// gaps. Measured on (12, 577, 577), one thread, Zen 3 (bench/bench_ops.cpp): in place 1.87 ms
// with the passes one row at a time, 1.59 ms pipelined; out of place 1.91 -> 1.73 ms.
// (Interleaving the same pass of 2 or 4 rows was not faster, nor was a 2x unrolled loop, nor
// prefetching the row after next; overlapping full registers in place of the masked tail
// loads and stores was slower.)

// One sweep: with kNext, the running maxima of row `next` (into next_max); the exp of row x
// (minus its max m) into out, returning the running sums; with kPrev, prev *= inv.
template <bool kNext, bool kPrev>
Vec sweep(int64_t n, const float* next, Vec& next_max, const float* x, float* out, Vec m,
          float* prev, Vec inv) {
    const int64_t full = n - n % kLanes, rest = n - full;
    Vec vs = splat(0.0f), vm = splat(-kInf);
    for (int64_t i = 0; i < full; i += kLanes) {
        if (kNext) vm = vmax(vm, load(next + i));
        const Vec e = exp_nonpositive(sub(load(x + i), m));
        store(out + i, e);
        vs = add(vs, e);
        if (kPrev) store(prev + i, mul(load(prev + i), inv));
    }
    if (rest) {  // the -inf fill lanes give exp = 0 and add nothing
        if (kNext) vm = vmax(vm, load_part(next + full, rest, -kInf));
        const Vec e = exp_nonpositive(sub(load_part(x + full, rest, -kInf), m));
        store_part(out + full, e, rest);
        vs = add(vs, e);
        if (kPrev) store_part(prev + full, mul(load_part(prev + full, rest, 0.0f), inv), rest);
    }
    if (kNext) next_max = vm;
    return vs;
}

// out = softmax(x) of `rows` contiguous rows of n floats (rows, n >= 1); out may be x itself
// (softmax_): every sweep reads a row of x before it writes that row of out.
void softmax_rows(const float* x, float* out, int64_t rows, int64_t n) {
    Vec vm = splat(-kInf);  // pass 1 of row 0, alone
    const int64_t full = n - n % kLanes, rest = n - full;
    for (int64_t i = 0; i < full; i += kLanes) vm = vmax(vm, load(x + i));
    if (rest) vm = vmax(vm, load_part(x + full, rest, -kInf));
    Vec inv = splat(0.0f);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        float* out_r = out + r * n;
        const Vec m = splat(max_lanes(vm));
        const bool next = r + 1 < rows, prev = r > 0;
        Vec vs;
        if (next && prev) {
            vs = sweep<true, true>(n, xr + n, vm, xr, out_r, m, out_r - n, inv);
        } else if (next) {
            vs = sweep<true, false>(n, xr + n, vm, xr, out_r, m, nullptr, inv);
        } else if (prev) {
            vs = sweep<false, true>(n, nullptr, vm, xr, out_r, m, out_r - n, inv);
        } else {
            vs = sweep<false, false>(n, nullptr, vm, xr, out_r, m, nullptr, inv);
        }
        inv = splat(1.0f / sum_lanes(vs));
    }
    float* last = out + (rows - 1) * n;  // pass 3 of the last row, alone
    for (int64_t i = 0; i < full; i += kLanes) store(last + i, mul(load(last + i), inv));
    if (rest) store_part(last + full, mul(load_part(last + full, rest, 0.0f), inv), rest);
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
            softmax_rows(src + begin * n, dst + begin * n, end - begin, n);
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
