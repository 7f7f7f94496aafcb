#include "optim/optimizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
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

OptimizerState Optimizer::state_dict() const {
    OptimizerState out;
    out.metadata["optimizer"] = name();
    out.metadata["groups"] = std::to_string(groups_.size());
    for (size_t g = 0; g < groups_.size(); ++g) {
        const ParamGroup& group = groups_[g];
        const std::string prefix = fmt::format("group.{}.", g);
        out.metadata[prefix + "params"] = std::to_string(group.params.size());
        out.metadata[prefix + "lr"] = fmt::format("{:.17g}", group.lr);
        out.metadata[prefix + "initial_lr"] = fmt::format("{:.17g}", group.initial_lr);
        out.metadata[prefix + "weight_decay"] = fmt::format("{:.17g}", group.weight_decay);
        for (size_t i = 0; i < group.params.size(); ++i) save_param_state(g, i, out);
    }
    return out;
}

namespace {

const std::string& meta(const OptimizerState& s, const std::string& key, const char* opt) {
    auto it = s.metadata.find(key);
    if (it == s.metadata.end())
        throw std::invalid_argument(
            fmt::format("{}::load_state_dict: the state has no '{}'", opt, key));
    return it->second;
}

double meta_double(const OptimizerState& s, const std::string& key, const char* opt) {
    const std::string& text = meta(s, key, opt);
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw std::invalid_argument(
            fmt::format("{}::load_state_dict: '{}' is '{}', not a number", opt, key, text));
    return v;
}

}  // namespace

void Optimizer::load_state_dict(const OptimizerState& state) {
    const char* opt = name();
    if (meta(state, "optimizer", opt) != opt)
        throw std::invalid_argument(fmt::format("{}::load_state_dict: the state is {}'s", opt,
                                                meta(state, "optimizer", opt)));
    if (meta(state, "groups", opt) != std::to_string(groups_.size()))
        throw std::invalid_argument(
            fmt::format("{}::load_state_dict: the state has {} parameter groups, this has {}", opt,
                        meta(state, "groups", opt), groups_.size()));
    // Everything is checked first, then loaded: a bad state changes nothing.
    for (bool check_only : {true, false}) {
        for (size_t g = 0; g < groups_.size(); ++g) {
            ParamGroup& group = groups_[g];
            const std::string prefix = fmt::format("group.{}.", g);
            if (meta(state, prefix + "params", opt) != std::to_string(group.params.size()))
                throw std::invalid_argument(fmt::format(
                    "{}::load_state_dict: group {} has {} parameters in the state, {} here", opt, g,
                    meta(state, prefix + "params", opt), group.params.size()));
            const double lr = meta_double(state, prefix + "lr", opt);
            const double initial_lr = meta_double(state, prefix + "initial_lr", opt);
            const double wd = meta_double(state, prefix + "weight_decay", opt);
            for (size_t i = 0; i < group.params.size(); ++i)
                load_param_state(g, i, state, check_only);
            if (!check_only) {
                group.lr = lr;
                group.initial_lr = initial_lr;
                group.weight_decay = wd;
            }
        }
    }
}

const Tensor* state_tensor(const OptimizerState& state, const std::string& key, const Shape& shape,
                           const char* optimizer) {
    auto it = state.tensors.find(key);
    if (it == state.tensors.end()) return nullptr;
    if (it->second.shape() != shape)
        throw std::invalid_argument(
            fmt::format("{}::load_state_dict: '{}' has shape {}, the parameter {}", optimizer, key,
                        it->second.shape(), shape));
    return &it->second;
}

int64_t state_step(const OptimizerState& state, const std::string& key, const char* optimizer) {
    const double v = meta_double(state, key, optimizer);
    if (!(v >= 0) || v != std::floor(v) || v > 9.0e15)
        throw std::invalid_argument(
            fmt::format("{}::load_state_dict: '{}' = {} is not a step count", optimizer, key, v));
    return static_cast<int64_t>(v);
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
