// softmax_blocked.cpp: softmax on contiguous memory with SIMD and threads.
//
// The same three passes as softmax_naive.cpp, each a streaming loop over whole registers:
// the kernels are in tensor/cpu/softmax_kernels.cpp (read it next, and simd.h before it),
// compiled once per instruction set. This file views the tensor as rows or columns and
// shares them out to threads. softmax_ writes the result over x: no second 16 MB buffer for
// the (12, 577, 577) scores of a ViT-B/16 block at 384 px. A fresh buffer of that size costs
// more than the softmax itself when its pages are new to the process (the operating system
// maps and zeroes each 4 KB page on its first write: see bench/bench_ops.cpp).
//
// After x.contiguous(), view x as (outer, n, inner) where n is the size of `dim`:
//   - inner == 1 (dim is the last one, e.g. attention scores (B, heads, N, N) over dim -1):
//     every row is n contiguous floats. Threads take whole rows, and the kernel pipelines the
//     passes of neighbouring rows.
//   - inner > 1: the row of element (o, :, j) has stride `inner`. Rather than gathering it,
//     run the three passes on a block of up to 64 neighbouring columns at once: each step
//     reads `inner`-contiguous floats, so the same registers do the work; m and s become
//     one value per column. Threads take (o, column block) pairs.
#include <algorithm>

#include "tensor/cpu/kernels.h"
#include "tensor/ops/softmax.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

// dst = softmax(src) along dim d of a contiguous tensor of shape `shape`; dst may be src.
void softmax_contiguous(const float* src, float* dst, const Shape& shape, int64_t d) {
    const int64_t numel = vitlab::numel(shape);
    if (numel == 0) return;
    // (outer, n, inner) around dim d.
    const int64_t n = shape[d];
    int64_t inner = 1;
    for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
    const int64_t outer = numel / (n * inner);

    const cpu::SoftmaxKernels& sk = cpu::kernels().softmax;
    if (inner == 1) {
        parallel_for(0, outer, ceil_div(kGrainSize, n), [&](int64_t begin, int64_t end) {
            sk.rows(src + begin * n, dst + begin * n, end - begin, n);
        });
        return;
    }
    const int64_t blocks = (inner + cpu::kSoftmaxColumns - 1) / cpu::kSoftmaxColumns;
    const int64_t block_size = n * std::min(cpu::kSoftmaxColumns, inner);
    parallel_for(0, outer * blocks, ceil_div(kGrainSize, block_size),
                 [&](int64_t begin, int64_t end) {
                     for (int64_t t = begin; t < end; ++t) {
                         const int64_t o = t / blocks, j = t % blocks * cpu::kSoftmaxColumns;
                         const int64_t offset = o * n * inner + j;
                         sk.columns(src + offset, dst + offset, n,
                                    std::min(cpu::kSoftmaxColumns, inner - j), inner);
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
