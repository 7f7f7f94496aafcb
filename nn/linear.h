// linear.h: Linear, the fully connected layer, as torch.nn.Linear.
//
//   x (..., in_features)  ->  y (..., out_features)
//   y = x @ weight^T + bias,   weight (out_features, in_features), bias (out_features)
// The weight is stored (out, in) as in PyTorch, so checkpoints load unchanged; the transpose
// is a view (no copy). All leading dims are flattened into one matrix product.
//
// Packing the weight once (opt-in): the blocked matmul copies b = weight^T into panels before it
// multiplies (matmul.h, PackedB), a few hundred rows at a time into a reused buffer. The weight
// is the same on every call, so prepack() can pack it once and keep the panels; forward() then
// skips the packing (a few % faster) at the price of a second copy of the weight in memory.
// That is why it is not the default: a ViT-B checkpoint would need twice its size.
// The pack is a snapshot of the numbers:
//   - rebinding the member (weight = t, or load_state_dict with assign) is noticed: forward()
//     goes back to the unpacked weight until prepack() is called again;
//   - writing into it in place (weight.copy_(w), weight.fill_(0), load_state_dict without
//     assign) is NOT noticed: call prepack() again afterwards, or the old numbers are used.
// With Kernel::Naive as the default kernel, forward() ignores the pack and runs matmul_naive.
#pragma once

#include <cstdint>
#include <mutex>

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

    // Packs weight^T now (again), e.g. after copying new numbers into weight in place.
    void prepack() const;
    // True when forward() would use a pack made from the current weight member.
    bool is_prepacked() const;

    int64_t in_features, out_features;
    Tensor weight;  // (out_features, in_features)
    Tensor bias;    // (out_features), or empty when built with bias = false

  private:
    // The cache behind prepack(): packed_from_ is the weight the panels were made from; holding
    // it keeps that storage alive, so a new weight can never reuse its address unnoticed.
    mutable std::mutex pack_mutex_;
    mutable Tensor packed_from_;
    mutable PackedB packed_;
    PackedB current_pack() const;  // the pack if it was made from the current weight, else empty
};

}  // namespace vitlab::nn
