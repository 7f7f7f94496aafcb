// schedule.h: the learning-rate schedule of ViT training, a linear warm-up then a cosine decay,
// and gradient-norm clipping (torch.nn.utils.clip_grad_norm_).
//
// WarmupCosineLR, for step s = 0, 1, ..., total_steps (W = warmup_steps, T = total_steps):
//   s <  W:  factor = start_factor + (1 - start_factor) * s / W          linear warm-up
//   s >= W:  factor = min_factor + (1 - min_factor) * (1 + cos(pi * (s - W) / (T - W))) / 2
//   lr of each group = its initial_lr * factor
// the same numbers as PyTorch's
//   SequentialLR(opt, [LinearLR(opt, start_factor, 1.0, total_iters=W),
//                      CosineAnnealingLR(opt, T_max=T - W, eta_min=min_factor * lr)],
//                milestones=[W])
// Call step() once after each optimiser step, as scheduler.step() in PyTorch.
#pragma once

#include <cstdint>
#include <vector>

#include "optim/optimizer.h"

namespace vitlab::optim {

class WarmupCosineLR {
  public:
    WarmupCosineLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                   double start_factor = 1e-3, double min_factor = 0.0);
    // The factor at step s (clamped to total_steps past the end).
    double factor(int64_t s) const;
    // Advances one step and sets every group's lr.
    void step();
    int64_t last_step() const { return step_; }
    // Jumps to step s (resuming) and sets every group's lr.
    void set_step(int64_t s);

  private:
    Optimizer& optimizer_;
    int64_t warmup_, total_;
    double start_factor_, min_factor_;
    int64_t step_ = 0;
    void apply();
};

// Scales every gradient by max_norm / (total_norm + 1e-6) when that is below 1, where
// total_norm is the 2-norm of all gradients together; returns total_norm (before clipping).
// Parameters without a grad are skipped. A non-finite total norm throws when
// error_if_nonfinite (naming the norm), else the grads are scaled (to NaN) as PyTorch does.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm,
                       bool error_if_nonfinite = false);

}  // namespace vitlab::optim
