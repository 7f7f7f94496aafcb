// module.cpp: the name registry behind named_parameters() and load_state_dict().
#include "nn/module.h"

#include <set>

#include "tensor/autograd.h"

namespace vitlab::nn {

void Module::register_parameter(const std::string& name, Tensor* parameter) {
    parameters_.emplace_back(name, parameter);
}

void Module::register_module(const std::string& name, Module* child) {
    children_.emplace_back(name, child);
}

// Depth first, own parameters before the children's: PyTorch's state dict order.
void Module::collect(const std::string& prefix,
                     std::vector<std::pair<std::string, Tensor*>>& out) const {
    for (const auto& [name, p] : parameters_) out.emplace_back(prefix + name, p);
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

NamedTensors Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor*>> all;
    collect("", all);
    NamedTensors out;
    out.reserve(all.size());
    for (const auto& [name, p] : all) out.emplace_back(name, *p);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, p] : named_parameters()) out.push_back(p);
    return out;
}

// Through the registered pointers, so the members themselves (and every later copy of them)
// carry the flag and the grad.
Module& Module::requires_grad_(bool requires_grad) {
    std::vector<std::pair<std::string, Tensor*>> all;
    collect("", all);
    for (auto& [name, p] : all) p->requires_grad_(requires_grad);
    return *this;
}

void Module::zero_grad() {
    std::vector<std::pair<std::string, Tensor*>> all;
    collect("", all);
    for (auto& [name, p] : all) p->zero_grad();
}

void Module::check_grads() const {
    std::vector<std::string> missing;
    for (const auto& [name, p] : named_parameters())
        if (p.requires_grad() && p.grad().numel() == 0 && p.numel() != 0) missing.push_back(name);
    if (missing.empty()) return;
    std::string names;
    for (const auto& n : missing) names += (names.empty() ? "" : ", ") + n;
    throw AutogradError(fmt::format(
        "check_grads: {} parameter(s) received no gradient from backward(): {}. They did not take "
        "part in the loss, or an op between them and the loss did not record (NoGrad, detach(), "
        "or an op without a backward)",
        missing.size(), names));
}

std::vector<std::pair<std::string, const Module*>> Module::named_children() const {
    return {children_.begin(), children_.end()};
}

Tensor Module::parameter(const std::string& name) const {
    for (const auto& [n, p] : named_parameters())
        if (n == name) return p;
    throw std::out_of_range("Module::parameter: no parameter named '" + name + "'");
}

int64_t Module::num_parameters() const {
    int64_t total = 0;
    for (const auto& [name, p] : named_parameters()) total += p.numel();
    return total;
}

TensorMap Module::state_dict() const {
    TensorMap out;
    for (const auto& [name, p] : named_parameters()) out.emplace(name, p);
    return out;
}

static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

IncompatibleKeys Module::load_state_dict(const TensorMap& state, bool strict, bool assign) {
    autograd::NoGrad no_grad;  // copying into parameters that require grad is not a recorded op
    std::vector<std::pair<std::string, Tensor*>> params;
    collect("", params);

    // Check everything first, so a failed strict load leaves the model untouched.
    IncompatibleKeys result;
    std::set<std::string> known;
    for (const auto& [name, p] : params) {
        known.insert(name);
        auto it = state.find(name);
        if (it == state.end()) {
            result.missing_keys.push_back(name);
            continue;
        }
        if (it->second.shape() != p->shape())
            throw ShapeError(
                fmt::format("load_state_dict: size mismatch for {}: the state dict has {}, the "
                            "model expects {}",
                            name, it->second.shape(), p->shape()));
    }
    for (const auto& [name, t] : state)
        if (!known.count(name)) result.unexpected_keys.push_back(name);

    if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
        std::string msg = "load_state_dict: the state dict does not match the model:";
        if (!result.missing_keys.empty())
            msg += fmt::format(" missing keys ({}): {};", result.missing_keys.size(),
                               join(result.missing_keys));
        if (!result.unexpected_keys.empty())
            msg += fmt::format(" unexpected keys ({}): {};", result.unexpected_keys.size(),
                               join(result.unexpected_keys));
        msg.pop_back();
        throw StateDictError(msg);
    }

    for (const auto& [name, p] : params) {
        auto it = state.find(name);
        if (it == state.end()) continue;
        if (assign)
            *p = it->second;  // the registry holds a pointer to the member: it now sees the new one
        else
            p->copy_(it->second);
    }
    return result;
}

}  // namespace vitlab::nn
