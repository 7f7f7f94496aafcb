#include "optim/adamw.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace vitlab::optim {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay, "AdamW"), options_(options) {
    if (!(options_.beta1 >= 0 && options_.beta1 < 1) ||
        !(options_.beta2 >= 0 && options_.beta2 < 1))
        throw std::invalid_argument(
            fmt::format("AdamW: betas ({}, {}) must be in [0, 1)", options_.beta1, options_.beta2));
    if (!(options_.eps >= 0))
        throw std::invalid_argument(fmt::format("AdamW: eps = {} must be >= 0", options_.eps));
    for (const ParamGroup& g : groups_) state_.emplace_back(g.params.size());
}

AdamW::AdamW(const std::vector<Tensor>& params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup>{ParamGroup{params}}, options) {}

// "state.<g>.<i>.exp_avg", "...exp_avg_sq" and the metadata "state.<g>.<i>.step", absent
// before the parameter's first step.
void AdamW::save_param_state(size_t group, size_t i, OptimizerState& out) const {
    const State& s = state_[group][i];
    if (s.step == 0) return;
    const std::string key = fmt::format("state.{}.{}.", group, i);
    out.tensors[key + "exp_avg"] = s.exp_avg.clone();
    out.tensors[key + "exp_avg_sq"] = s.exp_avg_sq.clone();
    out.metadata[key + "step"] = std::to_string(s.step);
}

void AdamW::load_param_state(size_t group, size_t i, const OptimizerState& state, bool check_only) {
    const std::string key = fmt::format("state.{}.{}.", group, i);
    const Shape& shape = groups_[group].params[i].shape();
    const Tensor* m = state_tensor(state, key + "exp_avg", shape, "AdamW");
    const Tensor* v = state_tensor(state, key + "exp_avg_sq", shape, "AdamW");
    const bool has_step = state.metadata.count(key + "step") > 0;
    if (!m != !v || !m != !has_step)
        throw std::invalid_argument(fmt::format(
            "AdamW::load_state_dict: parameter {} of group {} has only part of its state "
            "(exp_avg, exp_avg_sq, step)",
            i, group));
    const int64_t step = m ? state_step(state, key + "step", "AdamW") : 0;
    if (m && step == 0)
        throw std::invalid_argument(fmt::format("AdamW::load_state_dict: '{}step' is 0", key));
    if (check_only) return;
    State& s = state_[group][i];
    s.step = step;
    s.exp_avg = m ? m->clone() : Tensor();
    s.exp_avg_sq = v ? v->clone() : Tensor();
}

void AdamW::step() {
    const double beta1 = options_.beta1, beta2 = options_.beta2;
    const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
    const float one_minus_b1 = static_cast<float>(1.0 - beta1);
    const float one_minus_b2 = static_cast<float>(1.0 - beta2);
    const float eps = static_cast<float>(options_.eps);
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
        ParamGroup& group = groups_[gi];
        const float decay = static_cast<float>(1.0 - group.lr * group.weight_decay);
        for (size_t i = 0; i < group.params.size(); ++i) {
            Tensor& p = group.params[i];
            Tensor holder;
            const float* grad = grad_data(p, holder, "AdamW");
            if (!grad) continue;
            State& s = state_[gi][i];
            if (s.step == 0) {
                s.exp_avg = Tensor(p.shape());
                s.exp_avg_sq = Tensor(p.shape());
            }
            ++s.step;
            // The scalars in double, as PyTorch computes them from Python floats.
            const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(s.step));
            const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(s.step));
            const float step_size = static_cast<float>(group.lr / bias1);
            const float bias2_sqrt = static_cast<float>(std::sqrt(bias2));
            float* w = p.data();
            float* m = s.exp_avg.data();
            float* v = s.exp_avg_sq.data();
            const int64_t n = p.numel();
            for (int64_t k = 0; k < n; ++k) {
                const float g = grad[k];
                w[k] = w[k] * decay;
                m[k] = m[k] * b1 + one_minus_b1 * g;
                v[k] = v[k] * b2 + one_minus_b2 * (g * g);
                const float denom = std::sqrt(v[k]) / bias2_sqrt + eps;
                w[k] = w[k] - step_size * (m[k] / denom);
            }
        }
    }
}

}  // namespace vitlab::optim
