// linear.h: Linear, the fully connected layer, as torch.nn.Linear.
//
//   x (..., in_features)  ->  y (..., out_features)
//   y = x @ weight^T + bias,   weight (out_features, in_features), bias (out_features)
// The weight is stored (out, in) as in PyTorch, so checkpoints load unchanged; the transpose
// is a view (no copy). All leading dims are flattened into one matrix product.
//
// The layer packs nothing ahead of time: the blocked matmul packs weight^T into panels as it
// goes, a few hundred rows at a time into a reused buffer, so memory stays at one copy of the
// weights. (Packing once and keeping the panels, PackedB in matmul.h, doubles a checkpoint's
// memory for a gain too small to measure on one thread, and a snapshot of the weight would go
// stale silently as an optimiser updates it in place: bench_matmul measures it as "prepacked".)
#pragma once

#include <cstdint>

#include "nn/init.h"
#include "nn/module.h"
#include "tensor/ops/matmul.h"

namespace vitlab::nn {

class Linear : public Module {
  public:
    // weight trunc_normal(std 0.02) and bias zeros, as timm initialises a ViT.
    Linear(int64_t in_features, int64_t out_features, bool bias = true,
           Generator& gen = default_generator());

    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    int64_t in_features, out_features;
    Tensor weight;  // (out_features, in_features)
    Tensor bias;    // (out_features), or empty when built with bias = false
};

}  // namespace vitlab::nn
