// exercise.h: the function of exercise 05, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention(q, k, v).
//   q (..., N, d), k (..., M, d), v (..., M, d_v) -> (..., N, d_v)
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace vitlab::exercises
