// softmax_backward.cpp: softmax and log_softmax backward, log_softmax forward (formulas in
// softmax_backward.h). Rows along dim are packed first (row_loops.h), so each loop below runs
// over n contiguous floats: the naive ones here, the blocked ones in
// tensor/cpu/softmax_kernels.cpp.
#include "tensor/ops/softmax_backward.h"

#include <cmath>
#include <limits>

#include "tensor/autograd.h"
#include "tensor/cpu/kernels.h"
#include "tensor/ops/row_loops.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

void check_same(const Tensor& dy, const Tensor& y, const char* op) {
    if (dy.shape() != y.shape())
        throw ShapeError(fmt::format("{}: dy {} and y {} must have the same shape", op,
                                     to_string(dy.shape()), to_string(y.shape())));
}

// Length of one row of a packed (..., n) layout.
int64_t row_length(const Tensor& rows) {
    return rows.dim() == 0 ? 1 : rows.size(-1);
}

// The blocked row kernel: `rows` contiguous rows of n floats (cpu::SoftmaxKernels).
using BlockedRows = void (*)(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);

// dx for every row of y (and dy) along dim, on rows packed contiguous: the loop both
// backwards share. Naive: row(y, dy, dx, n) one row after the other. Blocked: `blocked` on
// runs of whole rows, split across threads.
template <class Row>
Tensor backward_by_rows(const Tensor& dy, const Tensor& y, int64_t dim, const char* op,
                        Kernel kernel, BlockedRows blocked, Row row) {
    check_same(dy, y, op);
    if (y.dim() == 0) return zeros(Shape{});  // a function of one number that is constant
    const int64_t d = wrap_dim(dim, y.dim(), op);
    const Tensor yr = detail::to_rows(y, d), dyr = detail::to_rows(dy, d);
    Tensor dx = empty(yr.shape());
    const int64_t n = row_length(yr), rows = n ? yr.numel() / n : 0;
    const float *ys = yr.data(), *g = dyr.data();
    float* out = dx.data();
    if (resolve(kernel) == Kernel::Blocked) {
        parallel_for(0, rows, ceil_div(kGrainSize, n), [&](int64_t r0, int64_t r1) {
            blocked(ys + r0 * n, g + r0 * n, out + r0 * n, r1 - r0, n);
        });
    } else {
        for (int64_t r = 0; r < rows; ++r) row(ys + r * n, g + r * n, out + r * n, n);
    }
    return detail::from_rows(dx, d);
}

}  // namespace

Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim, Kernel kernel) {
    return backward_by_rows(dy, y, dim, "softmax_backward", kernel,
                            cpu::kernels().softmax.backward_rows,
                            [](const float* yy, const float* g, float* o, int64_t n) {
                                double dot = 0.0;  // sum_j dy_j * y_j
                                for (int64_t j = 0; j < n; ++j)
                                    dot += static_cast<double>(g[j]) * yy[j];
                                for (int64_t j = 0; j < n; ++j)
                                    o[j] = static_cast<float>(yy[j] * (g[j] - dot));
                            });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
    if (autograd::recording(x))
        return autograd::recorded([&] { return log_softmax(x, dim); },
                                  [&](Tensor& out) { autograd::record_log_softmax(out, x, dim); });
    if (x.dim() == 0) return zeros(Shape{});  // log(softmax of one number) = log 1
    const int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
    const Tensor xr = detail::to_rows(x, d);
    Tensor y = empty(xr.shape());
    const int64_t n = row_length(xr), rows = n ? xr.numel() / n : 0;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xx = xr.data() + r * n;
        float* o = y.data() + r * n;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) m = std::fmax(m, xx[j]);
        double s = 0.0;
        for (int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(xx[j]) - m);
        // A row of only -inf: m = -inf, x - m = NaN, as PyTorch gives.
        const double log_sum = std::log(s);
        for (int64_t j = 0; j < n; ++j)
            o[j] = static_cast<float>(static_cast<double>(xx[j]) - m - log_sum);
    }
    return detail::from_rows(y, d);
}

Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim, Kernel kernel) {
    return backward_by_rows(
        dy, y, dim, "log_softmax_backward", kernel, cpu::kernels().softmax.log_backward_rows,
        [](const float* yy, const float* g, float* o, int64_t n) {
            double total = 0.0;  // sum_j dy_j
            for (int64_t j = 0; j < n; ++j) total += g[j];
            for (int64_t j = 0; j < n; ++j)
                o[j] = static_cast<float>(g[j] - std::exp(static_cast<double>(yy[j])) * total);
        });
}

}  // namespace vitlab
