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

// c (m, n) = bias on every row, or 0 if bias is null: the product when k = 0.
void fill_rows(Tensor& c, const float* bias);

}  // namespace vitlab::detail
