// adamw.h: torch.optim.AdamW, Adam with decoupled weight decay (Loshchilov & Hutter 2019).
//
// For each parameter p with gradient g, step t = 1, 2, ...:
//   p = p * (1 - lr * weight_decay)               decay the weight itself, not the gradient
//   m = beta1 * m + (1 - beta1) * g               first moment
//   v = beta2 * v + (1 - beta2) * g^2             second moment
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Weight decay per group: param_groups_weight_decay (optimizer.h) puts biases, norms,
// pos_embed and cls_token in a group without it, as timm does.
#pragma once

#include <cstdint>
#include <vector>

#include "optim/optimizer.h"

namespace vitlab::optim {

struct AdamWOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 1e-2;  // PyTorch's default
};

class AdamW : public Optimizer {
  public:
    AdamW(std::vector<ParamGroup> groups, AdamWOptions options);
    AdamW(const std::vector<Tensor>& params, AdamWOptions options);
    void step() override;

    // Per parameter (group g, index i): steps taken, exp_avg (m), exp_avg_sq (v).
    struct State {
        int64_t step = 0;
        Tensor exp_avg, exp_avg_sq;
    };
    const State& state(size_t group, size_t i) const { return state_[group][i]; }

  private:
    const char* name() const override { return "AdamW"; }
    void save_param_state(size_t group, size_t i, OptimizerState& out) const override;
    void load_param_state(size_t group, size_t i, const OptimizerState& state,
                          bool check_only) override;
    AdamWOptions options_;
    std::vector<std::vector<State>> state_;
};

}  // namespace vitlab::optim
