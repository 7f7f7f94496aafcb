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

#include <map>
#include <string>
#include <vector>

#include "tensor/io/safetensors.h"
#include "tensor/tensor.h"

namespace vitlab::optim {

// What --resume needs to continue training exactly where it stopped: the per-parameter buffers
// as tensors ("state.<group>.<index>.<buffer>", e.g. "state.1.0.exp_avg") and every number as
// text in metadata ("group.<g>.lr", "state.<g>.<i>.step", ...), doubles written with 17
// significant digits so they read back bit for bit. save_safetensors(path, s.tensors,
// s.metadata) writes it to one file.
struct OptimizerState {
    TensorMap tensors;
    std::map<std::string, std::string> metadata;
};

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

    // The state to save, and back. load_state_dict checks that the state was written by the
    // same optimiser for the same parameter groups (counts and shapes), and throws
    // std::invalid_argument naming the first thing that differs before changing anything.
    OptimizerState state_dict() const;
    void load_state_dict(const OptimizerState& state);

  protected:
    // Each optimiser's own buffers: one named tensor list and step count per parameter.
    virtual const char* name() const = 0;
    virtual void save_param_state(size_t group, size_t i, OptimizerState& out) const = 0;
    // Checks (check_only) or loads the buffers of parameter (group, i) from state.
    virtual void load_param_state(size_t group, size_t i, const OptimizerState& state,
                                  bool check_only) = 0;
    // Fills each group's unset lr / weight decay with the defaults, checks the parameters
    // (contiguous, no duplicates) and sets initial_lr. name is the optimiser's, for errors.
    Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* name);
    std::vector<ParamGroup> groups_;
};

// The grad of p if it has one of p's shape and is contiguous, else nullptr; a grad of another
// shape throws naming the optimiser.
const float* grad_data(const Tensor& p, Tensor& holder, const char* optimizer);

// For load_param_state: the tensor key of state with this shape (nullptr when absent; another
// shape throws), and a step count from the metadata.
const Tensor* state_tensor(const OptimizerState& state, const std::string& key, const Shape& shape,
                           const char* optimizer);
int64_t state_step(const OptimizerState& state, const std::string& key, const char* optimizer);

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
