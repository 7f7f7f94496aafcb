// matmul.h: matrix products with torch.matmul's rules.
//
//   (n) @ (n)             -> ()            dot product
//   (m, k) @ (k, n)       -> (m, n)
//   (k) @ (k, n)          -> (n)           a 1-d left operand gets a 1 prepended, then removed
//   (m, k) @ (k)          -> (m)           a 1-d right operand gets a 1 appended, then removed
//   (..., m, k) @ (..., k, n) -> (broadcast(...), m, n)   batch dims broadcast
//
// matmul_naive is the formula  out[i][j] = sum_p a[i][p] * b[p][j]  as three loops.
// matmul_blocked packs panels of a and b and runs a register-blocked SIMD micro-kernel with
// threads (see matmul_blocked.cpp). They agree within 1e-4 relative to sum_p |a[i][p] b[p][j]|.
// Inputs may be non-contiguous (transposed, sliced): both versions read through strides.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor matmul(const Tensor& a, const Tensor& b, Kernel kernel = Kernel::Default);
Tensor matmul_naive(const Tensor& a, const Tensor& b);
Tensor matmul_blocked(const Tensor& a, const Tensor& b);

// The 2-d core both entry points share: c (m, n) = a (m, k) @ b (k, n), all read via strides;
// c must be contiguous and is overwritten.
void gemm_naive(const Tensor& a, const Tensor& b, Tensor& c);
void gemm_blocked(const Tensor& a, const Tensor& b, Tensor& c);

}  // namespace vitlab
