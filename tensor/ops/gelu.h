// gelu.h: the Gaussian Error Linear Unit, the MLP's activation in a ViT.
//
//   exact (default, nn.GELU()):       gelu(x) = x/2 * (1 + erf(x / sqrt(2)))
//   tanh  (nn.GELU(approximate='tanh')): x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

enum class GeluApproximate { None, Tanh };

Tensor gelu(const Tensor& x, GeluApproximate approximate = GeluApproximate::None);

}  // namespace vitlab
