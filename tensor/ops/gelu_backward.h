// gelu_backward.h: the gradient of gelu (gelu.h), exact and tanh.
//
// exact:  gelu(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = exp(-x^2/2) / sqrt(2 pi)
//   dx = dy * (Phi(x) + x phi(x))
// tanh:   gelu(x) = x/2 (1 + t), t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3)
//   dx = dy * (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2))
// The backward takes the forward's input x. Naive: std::erf / std::tanh in double. Blocked:
// a register at a time (tensor/cpu/gelu_kernels.cpp), Phi by Abramowitz & Stegun 7.1.26
// (error < 1.5e-7), threads over blocks.
// Read cat_backward.h next.
#pragma once

#include "tensor/ops/gelu.h"
#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor gelu_backward(const Tensor& dy, const Tensor& x,
                     GeluApproximate approximate = GeluApproximate::None,
                     Kernel kernel = Kernel::Default);

}  // namespace vitlab
