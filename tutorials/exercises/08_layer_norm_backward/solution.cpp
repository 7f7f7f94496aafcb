// Exercise 08, the project's solution: the layer norm backward, one row (one token) at a time.
//
// The forward's mean and rstd are recomputed from x (two passes, in double, as in exercise 04),
// then each row takes two more passes: the two means mean(g) and mean(g * xhat) with
// g = dy * weight, then dx. dweight and dbias add up every row's share, in double (a row count
// of 197 or 577 times 768 channels). x and dy are cloned into packed copies; dx is written over
// the copy of dy.
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "exercise.h"

namespace vitlab::exercises {

LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   float eps) {
    const int64_t C = x.dim() > 0 ? x.size(-1) : 0;
    if (x.dim() == 0 || dy.shape() != x.shape() || weight.shape() != Shape{C})
        throw ShapeError(fmt::format(
            "layer_norm_backward: x {} needs dy of the same shape and weight ({}), got dy {} and "
            "weight {}",
            to_string(x.shape()), C, to_string(dy.shape()), to_string(weight.shape())));
    const Tensor xs = x.clone();  // packed: row r is xs.data() + r * C
    Tensor dx = dy.clone();       // dy's values, overwritten row by row with dx
    const Tensor w = weight.contiguous();
    std::vector<double> dweight(C, 0.0), dbias(C, 0.0), xhat(C);

    const float* xr = xs.data();
    float* gr = dx.data();
    const int64_t rows = C > 0 ? xs.numel() / C : 0;
    for (int64_t r = 0; r < rows; ++r, xr += C, gr += C) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < C; ++i) mean += xr[i];
        mean /= C;
        for (int64_t i = 0; i < C; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;
        const double rstd = 1.0 / std::sqrt(var + eps);
        double mean_g = 0.0, mean_gx = 0.0;
        for (int64_t i = 0; i < C; ++i) {
            xhat[i] = (xr[i] - mean) * rstd;
            const double g = static_cast<double>(gr[i]) * w.data()[i];
            mean_g += g;
            mean_gx += g * xhat[i];
            dbias[i] += gr[i];
            dweight[i] += gr[i] * xhat[i];
        }
        mean_g /= C;
        mean_gx /= C;
        for (int64_t i = 0; i < C; ++i) {
            const double g = static_cast<double>(gr[i]) * w.data()[i];
            gr[i] = static_cast<float>(rstd * (g - mean_g - xhat[i] * mean_gx));
        }
    }
    Tensor dw = zeros({C}), db = zeros({C});
    for (int64_t i = 0; i < C; ++i) {
        dw.data()[i] = static_cast<float>(dweight[i]);
        db.data()[i] = static_cast<float>(dbias[i]);
    }
    return LayerNormGrads{dx, dw, db};
}

}  // namespace vitlab::exercises
