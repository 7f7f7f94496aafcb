// gelu.h: the Gaussian Error Linear Unit, the MLP's activation in a ViT.
//
//   exact (default, nn.GELU()):       gelu(x) = x/2 * (1 + erf(x / sqrt(2)))
//   tanh  (nn.GELU(approximate='tanh')): x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
// gelu_naive applies std::erf / std::tanh one float at a time; gelu_blocked uses SIMD
// polynomials (tensor/cpu/simd.h, one copy per instruction set) and threads. Both are within 1e-6
// absolute of the formula. gelu_(x) writes gelu(x) over x (x must not be an expanded view, nor
// recorded for backward): the MLP uses it on its hidden activations, so they exist once.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

enum class GeluApproximate { None, Tanh };

Tensor gelu(const Tensor& x, GeluApproximate approximate = GeluApproximate::None,
            Kernel kernel = Kernel::Default);
Tensor gelu_naive(const Tensor& x, GeluApproximate approximate = GeluApproximate::None);
Tensor gelu_blocked(const Tensor& x, GeluApproximate approximate = GeluApproximate::None);
Tensor& gelu_(Tensor& x, GeluApproximate approximate = GeluApproximate::None,
              Kernel kernel = Kernel::Default);

}  // namespace vitlab
