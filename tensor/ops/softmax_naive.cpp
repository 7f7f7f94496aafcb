// softmax_naive.cpp: softmax along one dim, written as its formula (see softmax.h).
//
//   out_i = exp(x_i - m) / sum_j exp(x_j - m),   m = max_j x_j,   i and j run along `dim`
//
// Every other index picks one "row" along dim; the row is walked through its stride, so any
// dim of any view (transposed, sliced) works without copying. The sum is kept in double: this
// file is the reference that softmax_blocked.cpp is checked against.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/ops/softmax.h"

namespace vitlab {

Tensor softmax_naive(const Tensor& x, int64_t dim) {
    // A 0-d tensor is a row of one element, as in torch (dim 0 or -1).
    if (x.dim() == 0)
        return softmax_naive(x.reshape(Shape{1}), wrap_dim(dim, 1, "softmax")).reshape(Shape{});
    const int64_t d = wrap_dim(dim, x.dim(), "softmax");
    Tensor out(x.shape());
    const int64_t n = x.size(d), xs = x.stride(d), os = out.stride(d);

    // One row per index of the other dims: those are the indices of `x` with dim d set to 0.
    Shape rows = x.shape();
    rows[d] = 1;
    if (n == 0) return out;
    for_each_index(rows, [&](const std::vector<int64_t>& index) {
        const float* in = x.data();
        float* o = out.data();
        for (size_t k = 0; k < index.size(); ++k) {
            in += index[k] * x.strides()[k];
            o += index[k] * out.strides()[k];
        }
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < n; ++i) m = std::max(m, in[i * xs]);
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            o[i * os] = std::exp(in[i * xs] - m);
            sum += o[i * os];
        }
        for (int64_t i = 0; i < n; ++i) o[i * os] = static_cast<float>(o[i * os] / sum);
    });
    return out;
}

}  // namespace vitlab
