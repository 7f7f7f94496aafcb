// exercise.h: the function of exercise 03, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// softmax along dim, numerically stable, as torch.softmax(x, dim).
//   x (any shape) -> same shape; along dim every slice is >= 0 and sums to 1.
Tensor softmax(const Tensor& x, int64_t dim);

}  // namespace vitlab::exercises
