// layer_norm_backward.cpp: layer norm backward, naive loops in double (formulas in the header).
#include "tensor/ops/layer_norm_backward.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   float eps, Kernel kernel) {
    if (x.dim() == 0 || weight.shape() != Shape{x.size(-1)} || dy.shape() != x.shape())
        throw ShapeError(fmt::format(
            "layer_norm_backward: expected x (..., C), weight (C) and dy of x's shape, got x {}, "
            "weight {}, dy {}",
            to_string(x.shape()), to_string(weight.shape()), to_string(dy.shape())));
    const int64_t C = x.size(-1), rows = C ? x.numel() / C : 0;
    const Tensor xc = x.contiguous(), dyc = dy.contiguous(), wc = weight.contiguous();
    LayerNormGrads g{empty(x.shape()), empty({C}), empty({C})};
    if (resolve(kernel) == Kernel::Blocked && rows > 0) {
        // Blocks of kBlockRows rows: each writes its own column sums (float, in L1), added up
        // here in double in block order, so 1 or 2 threads give the same bits.
        constexpr int64_t kBlockRows = 64;
        const int64_t blocks = ceil_div(rows, kBlockRows);
        std::vector<float> partial(static_cast<size_t>(2 * blocks * C));
        const auto fn = cpu::kernels().layer_norm.backward_rows;
        parallel_for(0, blocks, std::max<int64_t>(1, kGrainSize / (kBlockRows * C)),
                     [&](int64_t b0, int64_t b1) {
                         for (int64_t b = b0; b < b1; ++b) {
                             const int64_t r0 = b * kBlockRows;
                             const int64_t n = std::min(kBlockRows, rows - r0);
                             fn(dyc.data() + r0 * C, xc.data() + r0 * C, wc.data(),
                                g.dx.data() + r0 * C, partial.data() + 2 * b * C,
                                partial.data() + (2 * b + 1) * C, n, C, eps);
                         }
                     });
        for (int64_t i = 0; i < C; ++i) {
            double dw = 0.0, db = 0.0;
            for (int64_t b = 0; b < blocks; ++b) {
                dw += partial[static_cast<size_t>(2 * b * C + i)];
                db += partial[static_cast<size_t>((2 * b + 1) * C + i)];
            }
            g.dweight.data()[i] = static_cast<float>(dw);
            g.dbias.data()[i] = static_cast<float>(db);
        }
        return g;
    }
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
