// layer_norm_backward.cpp: layer norm backward, naive loops in double (formulas in the header).
#include "tensor/ops/layer_norm_backward.h"

#include <cmath>
#include <vector>

namespace vitlab {

LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   float eps) {
    if (x.dim() == 0 || weight.shape() != Shape{x.size(-1)} || dy.shape() != x.shape())
        throw ShapeError(fmt::format(
            "layer_norm_backward: expected x (..., C), weight (C) and dy of x's shape, got x {}, "
            "weight {}, dy {}",
            to_string(x.shape()), to_string(weight.shape()), to_string(dy.shape())));
    const int64_t C = x.size(-1), rows = C ? x.numel() / C : 0;
    const Tensor xc = x.contiguous(), dyc = dy.contiguous(), wc = weight.contiguous();
    LayerNormGrads g{empty(x.shape()), empty({C}), empty({C})};
    std::vector<double> dw(static_cast<size_t>(C), 0.0), db(static_cast<size_t>(C), 0.0);
    std::vector<double> xhat(static_cast<size_t>(C)), gr(static_cast<size_t>(C));
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = xc.data() + r * C;
        const float* d = dyc.data() + r * C;
        float* o = g.dx.data() + r * C;
        double mean = 0.0;
        for (int64_t i = 0; i < C; ++i) mean += xr[i];
        mean /= static_cast<double>(C);
        double var = 0.0;
        for (int64_t i = 0; i < C; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= static_cast<double>(C);
        const double rstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
        double mean_g = 0.0, mean_gx = 0.0;
        for (int64_t i = 0; i < C; ++i) {
            xhat[i] = (xr[i] - mean) * rstd;
            gr[i] = static_cast<double>(d[i]) * wc.data()[i];
            mean_g += gr[i];
            mean_gx += gr[i] * xhat[i];
            db[i] += d[i];
            dw[i] += d[i] * xhat[i];
        }
        mean_g /= static_cast<double>(C);
        mean_gx /= static_cast<double>(C);
        for (int64_t i = 0; i < C; ++i)
            o[i] = static_cast<float>(rstd * (gr[i] - mean_g - xhat[i] * mean_gx));
    }
    for (int64_t i = 0; i < C; ++i) {
        g.dweight.data()[i] = static_cast<float>(dw[i]);
        g.dbias.data()[i] = static_cast<float>(db[i]);
    }
    return g;
}

}  // namespace vitlab
