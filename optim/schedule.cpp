#include "optim/schedule.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace vitlab::optim {

WarmupCosineLR::WarmupCosineLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                               double start_factor, double min_factor)
    : optimizer_(optimizer),
      warmup_(warmup_steps),
      total_(total_steps),
      start_factor_(start_factor),
      min_factor_(min_factor) {
    if (warmup_ < 0 || total_ <= warmup_)
        throw std::invalid_argument(
            fmt::format("WarmupCosineLR: need 0 <= warmup_steps < total_steps, got {} and {}",
                        warmup_, total_));
    if (!(start_factor_ > 0 && start_factor_ <= 1))
        throw std::invalid_argument(
            fmt::format("WarmupCosineLR: start_factor = {} must be in (0, 1]", start_factor_));
    if (!(min_factor_ >= 0 && min_factor_ <= 1))
        throw std::invalid_argument(
            fmt::format("WarmupCosineLR: min_factor = {} must be in [0, 1]", min_factor_));
    apply();
}

double WarmupCosineLR::factor(int64_t s) const {
    if (s < warmup_)
        return start_factor_ +
               (1.0 - start_factor_) * static_cast<double>(s) / static_cast<double>(warmup_);
    const double pi = 3.14159265358979323846;
    const double t =
        static_cast<double>(std::min(s, total_) - warmup_) / static_cast<double>(total_ - warmup_);
    return min_factor_ + (1.0 - min_factor_) * (1.0 + std::cos(pi * t)) / 2.0;
}

void WarmupCosineLR::step() {
    ++step_;
    apply();
}

void WarmupCosineLR::set_step(int64_t s) {
    if (s < 0) throw std::invalid_argument(fmt::format("WarmupCosineLR: step {} is negative", s));
    step_ = s;
    apply();
}

void WarmupCosineLR::apply() {
    const double f = factor(step_);
    for (ParamGroup& group : optimizer_.param_groups()) group.lr = group.initial_lr * f;
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm,
                       bool error_if_nonfinite) {
    std::vector<Tensor> grads;
    double sum_sq = 0.0;
    for (const Tensor& p : params) {
        Tensor g = p.grad();
        if (g.numel() == 0) continue;
        if (!g.is_contiguous())
            throw std::invalid_argument("clip_grad_norm_: a gradient is not contiguous");
        const float* d = g.data();
        for (int64_t k = 0; k < g.numel(); ++k) sum_sq += double(d[k]) * double(d[k]);
        grads.push_back(g);
    }
    const double total = std::sqrt(sum_sq);
    if (!std::isfinite(total) && error_if_nonfinite)
        throw std::runtime_error(fmt::format(
            "clip_grad_norm_: the total norm of the gradients is {}, not finite", total));
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0 || !std::isfinite(total)) {
        const float c = static_cast<float>(coef);
        for (Tensor& g : grads) {
            float* d = g.data();
            for (int64_t k = 0; k < g.numel(); ++k) d[k] *= c;
        }
    }
    return total;
}

}  // namespace vitlab::optim
