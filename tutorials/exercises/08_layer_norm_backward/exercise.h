// exercise.h: the function of exercise 08, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// The three gradients of y = layer_norm(x, weight, bias, eps) over the last dim.
struct LayerNormGrads {
    Tensor dx;       // (..., C), x's shape
    Tensor dweight;  // (C)
    Tensor dbias;    // (C)
};

// dy = dloss/dy (..., C), the forward's x (..., C) and weight (C), and its eps -> the gradients,
// as PyTorch's autograd gives them for torch.nn.functional.layer_norm(x, (C,), weight, bias, eps).
LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   float eps);

}  // namespace vitlab::exercises
