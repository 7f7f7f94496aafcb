#include "optim/sgd.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vitlab::optim {

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay, "SGD"), options_(options) {
    if (options_.momentum < 0)
        throw std::invalid_argument(
            fmt::format("SGD: momentum = {} must be >= 0", options_.momentum));
    if (options_.nesterov && (options_.momentum <= 0 || options_.dampening != 0))
        throw std::invalid_argument("SGD: nesterov needs momentum > 0 and dampening = 0");
    for (const ParamGroup& g : groups_) buffers_.emplace_back(g.params.size());
}

SGD::SGD(const std::vector<Tensor>& params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{ParamGroup{params}}, options) {}

// "state.<g>.<i>.momentum_buffer", absent before the parameter's first step (as in PyTorch).
void SGD::save_param_state(size_t group, size_t i, OptimizerState& out) const {
    const Tensor& buf = buffers_[group][i];
    if (buf.numel() == groups_[group].params[i].numel() &&
        buf.dim() == groups_[group].params[i].dim())
        out.tensors[fmt::format("state.{}.{}.momentum_buffer", group, i)] = buf.clone();
}

void SGD::load_param_state(size_t group, size_t i, const OptimizerState& state, bool check_only) {
    const Tensor* buf = state_tensor(state, fmt::format("state.{}.{}.momentum_buffer", group, i),
                                     groups_[group].params[i].shape(), "SGD");
    if (!check_only) buffers_[group][i] = buf ? buf->clone() : Tensor();
}

void SGD::step() {
    const float momentum = static_cast<float>(options_.momentum);
    const float keep = static_cast<float>(1.0 - options_.dampening);
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
        ParamGroup& group = groups_[gi];
        const float lr = static_cast<float>(group.lr);
        const float wd = static_cast<float>(group.weight_decay);
        for (size_t i = 0; i < group.params.size(); ++i) {
            Tensor& p = group.params[i];
            Tensor holder;
            const float* grad = grad_data(p, holder, "SGD");
            if (!grad) continue;
            float* w = p.data();
            const int64_t n = p.numel();
            Tensor& buf = buffers_[gi][i];
            const bool first = buf.numel() != n || buf.dim() != p.dim();
            if (momentum != 0.0f && first) buf = Tensor(p.shape());
            float* b = momentum != 0.0f ? buf.data() : nullptr;
            for (int64_t k = 0; k < n; ++k) {
                float g = grad[k];
                if (wd != 0.0f) g = g + wd * w[k];
                if (b) {
                    b[k] = first ? g : momentum * b[k] + keep * g;
                    g = options_.nesterov ? g + momentum * b[k] : b[k];
                }
                w[k] = w[k] - lr * g;
            }
        }
    }
}

}  // namespace vitlab::optim
