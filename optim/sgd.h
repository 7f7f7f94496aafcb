// sgd.h: torch.optim.SGD, stochastic gradient descent with momentum and weight decay.
//
// For each parameter p with gradient g, step t (t = 1, 2, ...):
//   g = g + weight_decay * p                               (L2, coupled to the gradient)
//   buf = g                                    at t = 1
//   buf = momentum * buf + (1 - dampening) * g at t > 1    (when momentum != 0)
//   g = g + momentum * buf  (nesterov)   or   g = buf      (when momentum != 0)
//   p = p - lr * g
#pragma once

#include <vector>

#include "optim/optimizer.h"

namespace vitlab::optim {

struct SGDOptions {
    double lr = 1e-3;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;  // needs momentum > 0 and dampening = 0, as in PyTorch
};

class SGD : public Optimizer {
  public:
    SGD(std::vector<ParamGroup> groups, SGDOptions options);
    SGD(const std::vector<Tensor>& params, SGDOptions options);
    void step() override;
    // The momentum buffer of parameter i of group g (empty before its first step).
    const Tensor& momentum_buffer(size_t group, size_t i) const { return buffers_[group][i]; }

  private:
    const char* name() const override { return "SGD"; }
    void save_param_state(size_t group, size_t i, OptimizerState& out) const override;
    void load_param_state(size_t group, size_t i, const OptimizerState& state,
                          bool check_only) override;
    SGDOptions options_;
    std::vector<std::vector<Tensor>> buffers_;
};

}  // namespace vitlab::optim
