// gelu.h: GELU as a layer (no parameters), as torch.nn.GELU.
//
//   gelu(x) = x/2 * (1 + erf(x / sqrt(2)))   (the exact form a ViT uses; see tensor/ops/gelu.h)
#pragma once

#include "nn/module.h"
#include "tensor/ops/gelu.h"

namespace vitlab::nn {

class GELU : public Module {
  public:
    explicit GELU(GeluApproximate approximate = GeluApproximate::None) : approximate(approximate) {}

    Tensor forward(const Tensor& x) const { return gelu(x, approximate); }
    Tensor operator()(const Tensor& x) const { return forward(x); }

    GeluApproximate approximate;
};

}  // namespace vitlab::nn
