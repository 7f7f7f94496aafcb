// softmax_kernels.cpp: the kernels of softmax_blocked, per instruction set (kernels.h), and
// those of the blocked softmax / log_softmax backward (at the end of this file).
//
// The same three passes as softmax_naive.cpp, each now a streaming loop over whole registers
// (the register vocabulary and exp come from simd.h, read it first):
//   1. m   = max_i x_i                      kLanes running maxima, reduced once at the end
//   2. e_i = exp(x_i - m), s = sum_i e_i    e is written to out; kLanes running sums
//   3. out_i = e_i * (1 / s)
// A row of attention scores (577 floats, 2.3 KB) stays in L1 between the passes, so memory
// sees one read of x and one write of out; the time goes into exp (about 15 register
// operations per kLanes values; x - m <= 0, so simd.h's exp_nonpositive skips the upper
// clamp). tensor/ops/softmax_blocked.cpp chooses between rows and columns and splits the work
// across threads.
//
// exp_approx and exp_nonpositive are within 2 ulp of exp (simd.h); they give exactly 0 for
// -inf (masked scores) and for x - m below -88, so those probabilities are exactly 0.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/simd.h"

namespace vitlab::cpu::VITLAB_CPU_NS {

namespace {

using namespace simd;

// ---- the three passes ----------------------------------------------------------------------
constexpr float kInf = __builtin_huge_valf();

// Rows that are contiguous (dim is the last one) are software-pipelined: one sweep along the
// columns does pass 1 of row r + 1, pass 2 of row r and pass 3 of row r - 1, so the three
// passes of neighbouring rows overlap:
//
//   sweep r:    row r+1: max      row r: exp, sum      row r-1: * 1/sum
//
// Pass 2's exp is a long chain of dependent instructions (about 45 cycles from load to
// result); on its own, a row's exp loop waits on those chains, then waits again for the sum
// before pass 3 can start. Interleaved, the max and the scaling of the other rows fill the
// gaps (the measurements, and what else was tried: docs/performance.md).

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

// softmax down each of the w <= kSoftmaxColumns columns of an (n, w) block whose rows are ld apart.
void softmax_columns(const float* x, float* out, int64_t n, int64_t w, int64_t ld) {
    alignas(64) float m[kSoftmaxColumns], s[kSoftmaxColumns];
    for (int64_t j = 0; j < kSoftmaxColumns; ++j) m[j] = -kInf, s[j] = 0.0f;
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; j += kLanes) {
            const int64_t c = w - j < kLanes ? w - j : kLanes;
            store(m + j, vmax(load(m + j), load_part(x + r * ld + j, c, -kInf)));
        }
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; j += kLanes) {
            const int64_t c = w - j < kLanes ? w - j : kLanes;
            const Vec e = exp_approx(sub(load_part(x + r * ld + j, c, 0.0f), load(m + j)));
            store_part(out + r * ld + j, e, c);
            store(s + j, add(load(s + j), e));
        }
    for (int64_t j = 0; j < w; ++j) s[j] = 1.0f / s[j];
    for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < w; ++j) out[r * ld + j] *= s[j];
}

// row[0 .. n) = softmax(row * scale): exp((x - max) * scale) / sum, in place.
void scaled_row(float* row, int64_t n, float scale) {
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

// ---- the backward (tensor/ops/softmax_backward.h), `rows` contiguous rows of n floats -------
// Each row is two streaming passes: a sum into kLanes partial sums (the tail's lanes past n
// load 0 and add nothing), reduced once; then dx. A row is summed by one thread only, so the
// result does not depend on how the rows are split across threads.

// dx = y * (dy - dot), dot = sum_j dy_j y_j.
void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t rows, int64_t n) {
    const int64_t full = n - n % kLanes, rest = n - full;
    for (int64_t r = 0; r < rows; ++r) {
        const float* yr = y + r * n;
        const float* g = dy + r * n;
        float* o = dx + r * n;
        Vec acc = splat(0.0f);
        for (int64_t i = 0; i < full; i += kLanes) acc = fmadd(load(g + i), load(yr + i), acc);
        if (rest)
            acc = fmadd(load_part(g + full, rest, 0.0f), load_part(yr + full, rest, 0.0f), acc);
        const Vec dot = splat(sum_lanes(acc));
        for (int64_t i = 0; i < full; i += kLanes)
            store(o + i, mul(load(yr + i), sub(load(g + i), dot)));
        if (rest)
            store_part(
                o + full,
                mul(load_part(yr + full, rest, 0.0f), sub(load_part(g + full, rest, 0.0f), dot)),
                rest);
    }
}

// dx = dy - exp(y) * total, total = sum_j dy_j. y is a log-probability (<= 0), but exp_approx,
// not exp_nonpositive: a y handed in from elsewhere may be positive; -inf gives exp = 0.
void log_softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t rows,
                               int64_t n) {
    const int64_t full = n - n % kLanes, rest = n - full;
    for (int64_t r = 0; r < rows; ++r) {
        const float* yr = y + r * n;
        const float* g = dy + r * n;
        float* o = dx + r * n;
        Vec acc = splat(0.0f);
        for (int64_t i = 0; i < full; i += kLanes) acc = add(acc, load(g + i));
        if (rest) acc = add(acc, load_part(g + full, rest, 0.0f));
        const Vec total = splat(sum_lanes(acc));
        for (int64_t i = 0; i < full; i += kLanes)
            store(o + i, fnmadd(exp_approx(load(yr + i)), total, load(g + i)));
        if (rest)
            store_part(o + full,
                       fnmadd(exp_approx(load_part(yr + full, rest, 0.0f)), total,
                              load_part(g + full, rest, 0.0f)),
                       rest);
    }
}

void exp_array(const float* x, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) store(out + i, exp_approx(load(x + i)));
    if (i < n) store_part(out + i, exp_approx(load_part(x + i, n - i, 0.0f)), n - i);
}

}  // namespace

const SoftmaxKernels softmax_kernels = {
    softmax_rows, softmax_columns,       scaled_row,
    exp_array,    softmax_backward_rows, log_softmax_backward_rows};

}  // namespace vitlab::cpu::VITLAB_CPU_NS
