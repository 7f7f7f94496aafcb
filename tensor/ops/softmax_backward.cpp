// softmax_backward.cpp: softmax and log_softmax backward, log_softmax forward (naive loops;
// formulas in softmax_backward.h). Rows along dim are packed first (row_loops.h), so each
// loop below runs over n contiguous floats.
#include "tensor/ops/softmax_backward.h"

#include <cmath>
#include <limits>

#include "tensor/autograd.h"
#include "tensor/ops/row_loops.h"

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

// dx for every row of y (and dy) along dim, from row(y, dy, dx, n): the loop both backwards
// share, on rows packed contiguous.
template <class Row>
Tensor backward_by_rows(const Tensor& dy, const Tensor& y, int64_t dim, const char* op, Row row) {
    check_same(dy, y, op);
    if (y.dim() == 0) return zeros(Shape{});  // a function of one number that is constant
    const int64_t d = wrap_dim(dim, y.dim(), op);
    const Tensor yr = detail::to_rows(y, d), dyr = detail::to_rows(dy, d);
    Tensor dx = empty(yr.shape());
    const int64_t n = row_length(yr), rows = n ? yr.numel() / n : 0;
    for (int64_t r = 0; r < rows; ++r)
        row(yr.data() + r * n, dyr.data() + r * n, dx.data() + r * n, n);
    return detail::from_rows(dx, d);
}

}  // namespace

Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
    return backward_by_rows(dy, y, dim, "softmax_backward",
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

Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
    return backward_by_rows(
        dy, y, dim, "log_softmax_backward",
        [](const float* yy, const float* g, float* o, int64_t n) {
            double total = 0.0;  // sum_j dy_j
            for (int64_t j = 0; j < n; ++j) total += g[j];
            for (int64_t j = 0; j < n; ++j)
                o[j] = static_cast<float>(g[j] - std::exp(static_cast<double>(yy[j])) * total);
        });
}

}  // namespace vitlab
