// exercise.h: the function of exercise 05, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include <optional>

#include "tensor/ops.h"

namespace vitlab::exercises {

// Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention(q, k, v,
// scale=None) and the library's vitlab::scaled_dot_product_attention
// (tensor/ops/scaled_dot_product_attention.h), with the same first four parameters.
//   q (..., N, d), k (..., M, d), v (..., M, d_v) -> (..., N, d_v); scale: 1 / sqrt(d) if none
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    std::optional<float> scale = std::nullopt);

}  // namespace vitlab::exercises
