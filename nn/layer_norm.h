// layer_norm.h: LayerNorm over the last dim, as torch.nn.LayerNorm(dim, eps).
//
//   x (..., dim) -> (..., dim):  (x - mean) / sqrt(var + eps) * weight + bias
// The default eps is 1e-6, the value timm's ViT uses (PyTorch's own default is 1e-5).
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace vitlab::nn {

class LayerNorm : public Module {
  public:
    // weight ones, bias zeros: at first the layer only normalises.
    explicit LayerNorm(int64_t dim, float eps = 1e-6f);

    // Throws ShapeError if x's last dim is not dim.
    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    int64_t dim;
    float eps;
    Tensor weight;  // (dim)
    Tensor bias;    // (dim)
};

}  // namespace vitlab::nn
