// softmax_backward.h: gradients of softmax (softmax.h), and log_softmax with its gradient.
//
// softmax, y = softmax(x) along dim, dy given:
//   one row's Jacobian is dy_j/dx_i = y_j (delta_ij - y_i), so
//   dx_i = sum_j dy_j y_j (delta_ij - y_i) = y_i * (dy_i - sum_j dy_j * y_j)
// The sum is one number per row: forget it and the gradient is wrong by y_i * sum(dy * y)
// (the classic mistake; it vanishes only when dy is the same for every j).
//
// log_softmax, y = x - max(x) - log(sum_j exp(x_j - max(x)))   (stable: see softmax.h)
//   dx_i = dy_i - exp(y_i) * sum_j dy_j        (exp(y_i) is softmax(x)_i)
// Both backwards take the forward's *output* y, as PyTorch's do: nothing else is kept.
// Naive: one float at a time, sums over a row in double (the readable reference). Blocked:
// a register at a time (tensor/cpu/softmax_kernels.cpp), sums in float over kLanes partial
// sums, exp by simd.h's exp_approx (2 ulp); threads over rows, each row summed by one thread,
// so 1 and 2 threads give the same bits. Both pack the rows along dim first (row_loops.h).
// Read layer_norm_backward.h next.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim,
                        Kernel kernel = Kernel::Default);

Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim,
                            Kernel kernel = Kernel::Default);

}  // namespace vitlab
