// softmax.cpp: the softmax entry point and Tensor::softmax; picks the naive or blocked kernel.
//
// Read softmax_naive.cpp first (the formula, one strided row at a time), then
// softmax_blocked.cpp (the same three passes on contiguous rows, with SIMD and threads).
#include "tensor/ops/softmax.h"

#include "tensor/autograd.h"

namespace vitlab {

Tensor softmax(const Tensor& x, int64_t dim, Kernel kernel) {
    if (autograd::recording(x))
        return autograd::recorded([&] { return softmax(x, dim, kernel); },
                                  [&](Tensor& out) { autograd::record_softmax(out, x, dim); });
    if (resolve(kernel) == Kernel::Naive) return softmax_naive(x, dim);
    return softmax_blocked(x, dim);
}

Tensor Tensor::softmax(int64_t dim) const {
    return vitlab::softmax(*this, dim);
}

}  // namespace vitlab
