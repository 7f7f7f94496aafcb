// optimizer.h: the base of the optimisers, as torch.optim.Optimizer: parameter groups, each
// with its own learning rate and weight decay, and zero_grad().
//
//   AdamW opt(param_groups_weight_decay(model.named_parameters(), 0.05), {.lr = 3e-3});
//   loss.backward();  opt.step();  opt.zero_grad();
//
// The parameters are Tensors that share storage and grad() with the model's. step() updates
// them in place through data(), which the autograd tape does not see (PyTorch's torch.no_grad()
// inside step()). A parameter whose grad() is empty (it took no part in the loss) is skipped,
// as PyTorch skips p.grad is None. Hyper-parameters are doubles, as Python floats are in
// PyTorch; the tensors and their updates are float32.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace vitlab::optim {

struct ParamGroup {
    std::vector<Tensor> params;
    double lr = -1.0;            // < 0: the optimiser's default
    double weight_decay = -1.0;  // < 0: the optimiser's default
    double initial_lr = -1.0;    // the lr at construction; schedules scale it (see schedule.h)
};

class Optimizer {
  public:
    virtual ~Optimizer() = default;
    virtual void step() = 0;
    // Clears every parameter's grad (PyTorch's zero_grad(set_to_none=True)).
    void zero_grad();
    std::vector<ParamGroup>& param_groups() { return groups_; }
    const std::vector<ParamGroup>& param_groups() const { return groups_; }
    // Sets every group's lr (for a single-group optimiser or a uniform schedule).
    void set_lr(double lr);

  protected:
    // Fills each group's unset lr / weight decay with the defaults, checks the parameters
    // (contiguous, no duplicates) and sets initial_lr. name is the optimiser's, for errors.
    Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* name);
    std::vector<ParamGroup> groups_;
};

// The grad of p if it has one of p's shape and is contiguous, else nullptr; a grad of another
// shape throws naming the optimiser.
const float* grad_data(const Tensor& p, Tensor& holder, const char* optimizer);

// Splits named parameters into two groups as timm's param_groups_weight_decay does:
//   no decay: every tensor with <= 1 dim (biases, LayerNorm weights and biases), every name
//             ending in ".bias", and the names in skip (default: pos_embed and cls_token,
//             timm's VisionTransformer.no_weight_decay())
//   decay:    the rest (Linear and Conv weights), with weight_decay
// Group 0 is the no-decay group (weight decay 0), group 1 the decay group, as in timm.
std::vector<ParamGroup> param_groups_weight_decay(
    const std::vector<std::pair<std::string, Tensor>>& named, double weight_decay,
    const std::vector<std::string>& skip = {"pos_embed", "cls_token"});

}  // namespace vitlab::optim
