#include "optim/optimizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace vitlab::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay,
                     const char* name)
    : groups_(std::move(groups)) {
    if (groups_.empty()) throw std::invalid_argument(fmt::format("{}: no parameter groups", name));
    std::set<const float*> seen;
    for (size_t g = 0; g < groups_.size(); ++g) {
        ParamGroup& group = groups_[g];
        if (group.lr < 0) group.lr = lr;
        if (group.weight_decay < 0) group.weight_decay = weight_decay;
        if (!(group.lr >= 0))
            throw std::invalid_argument(fmt::format("{}: lr = {} must be >= 0", name, group.lr));
        group.initial_lr = group.lr;
        for (size_t i = 0; i < group.params.size(); ++i) {
            const Tensor& p = group.params[i];
            if (!p.is_contiguous())
                throw std::invalid_argument(
                    fmt::format("{}: parameter {} of group {} is not contiguous", name, i, g));
            if (!seen.insert(p.data()).second)
                throw std::invalid_argument(
                    fmt::format("{}: parameter {} of group {} appears twice", name, i, g));
        }
    }
}

void Optimizer::zero_grad() {
    for (ParamGroup& group : groups_)
        for (Tensor& p : group.params) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
    for (ParamGroup& group : groups_) group.lr = lr;
}

const float* grad_data(const Tensor& p, Tensor& holder, const char* optimizer) {
    holder = p.grad();
    if (holder.numel() == 0 && holder.dim() == 1) return nullptr;  // no grad (Tensor())
    if (holder.shape() != p.shape())
        throw std::invalid_argument(
            fmt::format("{}: a grad of shape {} for a parameter of shape {}", optimizer,
                        holder.shape(), p.shape()));
    holder = holder.contiguous();
    return holder.data();
}

std::vector<ParamGroup> param_groups_weight_decay(
    const std::vector<std::pair<std::string, Tensor>>& named, double weight_decay,
    const std::vector<std::string>& skip) {
    ParamGroup no_decay, decay;
    no_decay.weight_decay = 0.0;
    decay.weight_decay = weight_decay;
    for (const auto& [name, p] : named) {
        const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
        const bool skipped = std::find(skip.begin(), skip.end(), name) != skip.end();
        (p.dim() <= 1 || is_bias || skipped ? no_decay : decay).params.push_back(p);
    }
    return {no_decay, decay};
}

}  // namespace vitlab::optim
