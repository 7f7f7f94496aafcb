// matmul_internal.h: what the matmul kernels share, not part of the public API (matmul.h).
//
// matmul_naive.cpp, matmul_ladder.cpp and matmul_blocked.cpp all start from check_gemm_args
// (matmul.cpp), so every mistake is reported with the same words whichever kernel runs.
#pragma once

#include "tensor/tensor.h"

namespace vitlab::detail {

// Checks a (m, k), b (k, n) and c (m, n): 2-d, matching sizes, c contiguous and separate from
// a and b. Throws ShapeError / std::invalid_argument naming `op` and what is wrong.
void check_gemm_args(const char* op, const Tensor& a, const Tensor& b, const Tensor& c);

// c (m, n) = a^T @ b for a (K, m) and b (K, n), the blocked kernel that reads both in place
// (matmul_blocked.cpp): a Linear's dW = dy^T @ x. If col_sums is not null it also gets the m
// column sums of a (col_sums[i] = sum over p of a[p][i]: the bias gradient). Throws ShapeError /
// std::invalid_argument as check_gemm_args does.
void gemm_tn_blocked(const Tensor& a, const Tensor& b, Tensor& c, float* col_sums);

// c (m, n) = bias on every row, or 0 if bias is null: the product when k = 0.
void fill_rows(Tensor& c, const float* bias);

}  // namespace vitlab::detail
