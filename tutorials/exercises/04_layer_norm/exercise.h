// exercise.h: the function of exercise 04, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// LayerNorm over the last dim, as torch.nn.functional.layer_norm(x, (C,), weight, bias, eps).
//   x (..., C), weight (C), bias (C) -> same shape as x
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

}  // namespace vitlab::exercises
