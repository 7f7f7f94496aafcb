// gelu_backward.h: the gradient of gelu (gelu.h), exact and tanh.
//
// exact:  gelu(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = exp(-x^2/2) / sqrt(2 pi)
//   dx = dy * (Phi(x) + x phi(x))
// tanh:   gelu(x) = x/2 (1 + t), t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3)
//   dx = dy * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2))
// The backward takes the forward's input x. Naive: std::erf / std::tanh in double.
// Read cat_backward.h next.
#pragma once

#include "tensor/ops/gelu.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor gelu_backward(const Tensor& dy, const Tensor& x,
                     GeluApproximate approximate = GeluApproximate::None);

}  // namespace vitlab
