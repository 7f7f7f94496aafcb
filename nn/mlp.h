// mlp.h: the Transformer's feed-forward network, as timm's Mlp.
//
//   x (B, N, C) -> fc1 (B, N, hidden) -> GELU -> fc2 (B, N, C)
// hidden is 4 * C in every standard ViT (768 -> 3072 -> 768).
#pragma once

#include <cstdint>

#include "nn/gelu.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace vitlab::nn {

class Mlp : public Module {
  public:
    Mlp(int64_t in_features, int64_t hidden_features, Generator& gen = default_generator());

    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    Linear fc1;  // weight (hidden_features, in_features)
    GELU act;
    Linear fc2;  // weight (in_features, hidden_features)
};

}  // namespace vitlab::nn
