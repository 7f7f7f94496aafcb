// Exercise 04, the project's solution: LayerNorm, one row (one token) at a time.
//
// Two passes over each row: first the mean, then the variance as the mean of (x - mean)^2.
// The shortcut var = E[x^2] - E[x]^2 needs one pass but subtracts two large, nearly equal
// numbers when the row's mean is large compared with its spread, and float32 then loses every
// digit of the variance (it can even come out negative). The sums are kept in double: 768
// floats added in float would lose about three digits.
#include <fmt/format.h>

#include <cmath>

#include "exercise.h"

namespace vitlab::exercises {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    const int64_t C = x.dim() > 0 ? x.size(-1) : 0;
    if (x.dim() == 0 || weight.shape() != Shape{C} || bias.shape() != Shape{C})
        throw ShapeError(fmt::format(
            "layer_norm: x {} needs weight and bias of shape ({}), got {} and {}",
            to_string(x.shape()), C, to_string(weight.shape()), to_string(bias.shape())));
    Tensor out = x.clone();  // packed: row r is out.data() + r * C
    if (out.numel() == 0) return out;
    const Tensor w = weight.contiguous(), b = bias.contiguous();

    float* row = out.data();
    for (int64_t r = 0; r < out.numel() / C; ++r, row += C) {
        double sum = 0.0;
        for (int64_t i = 0; i < C; ++i) sum += row[i];
        const double mean = sum / C;
        double squares = 0.0;
        for (int64_t i = 0; i < C; ++i) squares += (row[i] - mean) * (row[i] - mean);
        const double var = squares / C;  // biased, as PyTorch normalises
        const double inv_std = 1.0 / std::sqrt(var + eps);
        for (int64_t i = 0; i < C; ++i)
            row[i] = static_cast<float>((row[i] - mean) * inv_std) * w.data()[i] + b.data()[i];
    }
    return out;
}

}  // namespace vitlab::exercises
