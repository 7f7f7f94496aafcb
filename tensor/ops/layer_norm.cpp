// layer_norm.cpp: LayerNorm over the last dim (see layer_norm.h for the formula).
//
// Each row of C numbers (one token's features) is normalised on its own: shift to mean 0,
// scale to variance 1, then the learned per-feature weight and bias. Rows are independent, so
// threads take whole rows (in the blocked version). Two versions, as for softmax and matmul:
//
// naive: two passes in double (mean first, then the squared deviations from it). The one-pass
// formula E[x^2] - E[x]^2 cancels catastrophically when the mean is large compared to the
// spread, so it is not used in either version.
//
// blocked: tensor/cpu/layer_norm_kernels.cpp, a register at a time in float lanes, compiled
// once per instruction set; tests compare it with naive.
#include "tensor/ops/layer_norm.h"

#include <cmath>

#include "tensor/autograd.h"
#include "tensor/cpu/kernels.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

void check_affine(const Tensor& x, const Tensor& t, const char* role) {
    const int64_t C = x.size(-1);
    if (t.shape() != Shape{C})
        throw ShapeError(fmt::format("layer_norm: {} {} does not match x {}: expected ({},)", role,
                                     to_string(t.shape()), to_string(x.shape()), C));
}

void check_shapes(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    if (x.dim() == 0)
        throw ShapeError("layer_norm: expected x of shape (..., C), got a 0-d tensor ()");
    check_affine(x, weight, "weight");
    check_affine(x, bias, "bias");
}

// ---- naive: the formula, in double --------------------------------------------------------

void layer_norm_row_naive(const float* row, float* o, const float* w, const float* b, int64_t C,
                          float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < C; ++i) sum += row[i];
    const double mean = sum / static_cast<double>(C);
    double sq = 0.0;
    for (int64_t i = 0; i < C; ++i) sq += (row[i] - mean) * (row[i] - mean);
    const double var = sq / static_cast<double>(C);  // biased, as PyTorch
    const float m = static_cast<float>(mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    for (int64_t i = 0; i < C; ++i) o[i] = (row[i] - m) * rstd * w[i] + b[i];
}

void layer_norm_rows_naive(const float* x, float* o, const float* w, const float* b, int64_t rows,
                           int64_t C, float eps) {
    for (int64_t r = 0; r < rows; ++r) layer_norm_row_naive(x + r * C, o + r * C, w, b, C, eps);
}

using RowsFn = void (*)(const float*, float*, const float*, const float*, int64_t, int64_t, float);

// rows_fn normalises a run of neighbouring rows.
Tensor layer_norm_with(RowsFn rows_fn, bool threads, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, float eps) {
    check_shapes(x, weight, bias);
    const int64_t C = x.size(-1);
    Tensor out = empty(x.shape());
    if (out.numel() == 0) return out;
    const Tensor in = x.contiguous(), w = weight.contiguous(), b = bias.contiguous();
    const float* src = in.data();
    const float* pw = w.data();
    const float* pb = b.data();
    float* dst = out.data();
    auto rows = [&](int64_t begin, int64_t end) {
        rows_fn(src + begin * C, dst + begin * C, pw, pb, end - begin, C, eps);
    };
    const int64_t n_rows = out.numel() / C;
    if (threads)
        parallel_for(0, n_rows, ceil_div(kGrainSize, C), rows);
    else
        rows(0, n_rows);
    return out;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                  Kernel kernel) {
    if (autograd::recording(x, weight, bias))
        return autograd::recorded(
            [&] { return layer_norm(x, weight, bias, eps, kernel); },
            [&](Tensor& out) { autograd::record_layer_norm(out, x, weight, bias, eps); });
    if (resolve(kernel) == Kernel::Naive) return layer_norm_naive(x, weight, bias, eps);
    return layer_norm_blocked(x, weight, bias, eps);
}

Tensor layer_norm_naive(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    return layer_norm_with(layer_norm_rows_naive, false, x, weight, bias, eps);
}

Tensor layer_norm_blocked(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    return layer_norm_with(cpu::kernels().layer_norm.rows, true, x, weight, bias, eps);
}

}  // namespace vitlab
