// exercise.h: the function of exercise 07, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// The gradient of y = softmax(x, dim), given y and dy = dloss/dy, as PyTorch's
// torch._softmax_backward_data(dy, y, dim):
//   dy (any shape), y (the same shape) -> dx = dloss/dx, the same shape
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim);

}  // namespace vitlab::exercises
