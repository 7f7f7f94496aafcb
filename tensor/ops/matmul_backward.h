// matmul_backward.h: gradients of matmul (matmul.h) and linear (linear.h).
//
// matmul, c = a @ b with a (..., m, k), b (..., k, n), dc (..., m, n):
//   da = dc @ b^T     (..., m, n) @ (..., n, k) -> (..., m, k)
//   db = a^T @ dc     (..., k, m) @ (..., m, n) -> (..., k, n)
// then each summed over the batch dims its operand was broadcast along (sum_to). A 1-d
// operand is first made 2-d exactly as the forward does ((k) -> (1, k) on the left, (k, 1) on
// the right) and the gradient flattened back. b^T and a^T are transpose *views*: the same
// matmul (naive or blocked) reads them through strides, so the blocked GEMM does the work.
// When b is one matrix shared by a whole batch (a weight), db is one product over all rows:
//   db = a.reshape(-1, k)^T @ dc.reshape(-1, n)       no (batch, k, n) tensor to sum
// with a long K (all the rows) and a small result; the blocked kernel runs it on a loop of its
// own (gemm_tn_blocked in matmul_blocked.cpp) that reads both operands in place.
//
// linear, y = x @ weight^T + bias with x (..., in), weight (out, in), dy (..., out):
//   dx = dy @ weight                                   (..., out) @ (out, in) -> (..., in)
//   dweight = dy.reshape(-1, out)^T @ x.reshape(-1, in)           -> (out, in)
//   dbias = sum of dy over all rows                                -> (out)
// Blocked, dweight and dbias come from one pass over dy and x (gemm_tn_blocked); naive, from
// the formulas one at a time.
// Read conv2d_backward.h next.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

struct MatmulGrads {
    Tensor da, db;  // a's shape and b's shape
};
MatmulGrads matmul_backward(const Tensor& dc, const Tensor& a, const Tensor& b,
                            Kernel kernel = Kernel::Default);

struct LinearGrads {
    Tensor dx, dweight, dbias;  // dbias is an empty Tensor() when has_bias is false
};
LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                            bool has_bias = true, Kernel kernel = Kernel::Default);

}  // namespace vitlab
