// cross_entropy.cpp: cross entropy with label smoothing, forward and backward (see the header).
#include "tensor/ops/cross_entropy.h"

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/autograd.h"

namespace vitlab {

namespace {

// Checks the shapes and the targets; returns the targets as integers.
std::vector<int64_t> check(const Tensor& logits, const Tensor& target, float eps, const char* op) {
    if (logits.dim() != 2 || target.shape() != Shape{logits.size(0)})
        throw ShapeError(fmt::format("{}: expected logits (B, C) and target (B), got {} and {}", op,
                                     to_string(logits.shape()), to_string(target.shape())));
    if (!(eps >= 0.0f && eps <= 1.0f))
        throw std::invalid_argument(
            fmt::format("{}: label_smoothing must be in [0, 1], got {}", op, eps));
    const int64_t C = logits.size(1);
    std::vector<int64_t> classes;
    for (float t : target.to_vector()) {
        if (!(t >= 0.0f && t < static_cast<float>(C)) || t != std::floor(t))
            throw IndexError(
                fmt::format("{}: target {} is not a class index in [0, {})", op, t, C));
        classes.push_back(static_cast<int64_t>(t));
    }
    return classes;
}

// log_softmax of one row, in double.
void log_softmax_row(const Tensor& logits, int64_t b, std::vector<double>& logp) {
    const int64_t C = logits.size(1);
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < C; ++c) m = std::fmax(m, logits.at({b, c}));
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(logits.at({b, c}) - m);
    const double lse = m + std::log(s);
    for (int64_t c = 0; c < C; ++c) logp[static_cast<size_t>(c)] = logits.at({b, c}) - lse;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, float label_smoothing) {
    if (autograd::recording(logits, target))
        return autograd::recorded([&] { return cross_entropy(logits, target, label_smoothing); },
                                  [&](Tensor& out) {
                                      autograd::record_cross_entropy(out, logits, target,
                                                                     label_smoothing);
                                  });
    const std::vector<int64_t> classes = check(logits, target, label_smoothing, "cross_entropy");
    const int64_t B = logits.size(0), C = logits.size(1);
    const double eps = label_smoothing;
    std::vector<double> logp(static_cast<size_t>(C));
    double total = 0.0;
    for (int64_t b = 0; b < B; ++b) {
        log_softmax_row(logits, b, logp);
        double sum_logp = 0.0;
        for (double l : logp) sum_logp += l;
        total -= (1.0 - eps) * logp[static_cast<size_t>(classes[b])] + eps / C * sum_logp;
    }
    return full(Shape{}, static_cast<float>(total / static_cast<double>(B)));  // B = 0: NaN
}

Tensor cross_entropy_backward(const Tensor& dloss, const Tensor& logits, const Tensor& target,
                              float label_smoothing) {
    const std::vector<int64_t> classes =
        check(logits, target, label_smoothing, "cross_entropy_backward");
    if (dloss.numel() != 1)
        throw ShapeError(
            fmt::format("cross_entropy_backward: dloss must have one element (the "
                        "loss is 0-d), got {}",
                        to_string(dloss.shape())));
    const int64_t B = logits.size(0), C = logits.size(1);
    const double eps = label_smoothing, scale = dloss.item() / static_cast<double>(B);
    std::vector<double> logp(static_cast<size_t>(C));
    Tensor dx = empty(logits.shape());
    for (int64_t b = 0; b < B; ++b) {
        log_softmax_row(logits, b, logp);
        for (int64_t c = 0; c < C; ++c) {
            const double q = (c == classes[b] ? 1.0 - eps : 0.0) + eps / C;
            dx.data()[b * C + c] = static_cast<float>(scale * (std::exp(logp[c]) - q));
        }
    }
    return dx;
}

}  // namespace vitlab
