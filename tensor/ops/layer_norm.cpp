// layer_norm.cpp: LayerNorm over the last dim (see layer_norm.h for the formula).
//
// Each row of C numbers (one token's features) is normalised on its own: shift to mean 0,
// scale to variance 1, then the learned per-feature weight and bias. The statistics use two
// passes (mean first, then the squared deviations from it) in double: the one-pass formula
// E[x^2] - E[x]^2 cancels catastrophically when the mean is large compared to the spread.
// Rows are independent, so threads take whole rows.
#include "tensor/ops/layer_norm.h"

#include <cmath>

#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

void check_affine(const Tensor& x, const Tensor& t, const char* role) {
    const int64_t C = x.size(-1);
    if (t.shape() != Shape{C})
        throw ShapeError(fmt::format("layer_norm: {} {} does not match x {}: expected ({})", role,
                                     to_string(t.shape()), to_string(x.shape()), C));
}

// Below this many elements, starting threads costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    if (x.dim() == 0)
        throw ShapeError("layer_norm: expected x of shape (..., C), got a 0-d tensor ()");
    check_affine(x, weight, "weight");
    check_affine(x, bias, "bias");

    const int64_t C = x.size(-1);
    Tensor out = empty(x.shape());
    if (out.numel() == 0) return out;
    const Tensor in = x.contiguous(), w = weight.contiguous(), b = bias.contiguous();
    const float* src = in.data();
    const float* pw = w.data();
    const float* pb = b.data();
    float* dst = out.data();

    auto rows = [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            const float* row = src + r * C;
            float* o = dst + r * C;
            double sum = 0.0;
            for (int64_t i = 0; i < C; ++i) sum += row[i];
            const double mean = sum / static_cast<double>(C);
            double sq = 0.0;
            for (int64_t i = 0; i < C; ++i) sq += (row[i] - mean) * (row[i] - mean);
            const double var = sq / static_cast<double>(C);  // biased, as PyTorch
            const float m = static_cast<float>(mean);
            const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
            for (int64_t i = 0; i < C; ++i) o[i] = (row[i] - m) * rstd * pw[i] + pb[i];
        }
    };
    const int64_t n_rows = out.numel() / C;
    if (out.numel() < kParallelMin) {
        rows(0, n_rows);
    } else {
        parallel_for(0, n_rows, rows);
    }
    return out;
}

}  // namespace vitlab
