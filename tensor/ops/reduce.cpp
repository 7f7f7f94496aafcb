// reduce.cpp: sum, mean, max, argmax over one dim, and topk (see reduce.h).
//
// Every reduction here has the same shape of loop. Move the reduced dim to the end with a
// permute (a view, nothing is copied), and the tensor becomes a list of "rows":
//   x (B, N, C), dim = 1   ->   x.permute({0, 2, 1}) (B, C, N)   ->   B*C rows of N numbers
// Each row gives one output number (or k of them for topk), written in row-major order of the
// remaining dims, which is exactly the output's layout without the reduced dim. keepdim then
// just puts a size-1 dim back. A row's numbers sit `stride` floats apart in memory (stride
// x.stride(dim)), so non-contiguous inputs work without a copy.
//
// NaN is treated like PyTorch does: it is larger than every number, so max and argmax return
// the first NaN of a row, and topk puts NaNs first.
#include "tensor/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "tensor/autograd.h"

namespace vitlab {

namespace {

// Calls f(row, n, stride, r) for every row r of x along its last dim, in row-major order:
// element j of row r is row[j * stride].
template <typename F>
void for_each_row(const Tensor& x, F&& f) {
    const int64_t rank = x.dim();
    const int64_t n = x.size(-1), stride = x.stride(-1);
    const int64_t rows = numel(Shape(x.shape().begin(), x.shape().end() - 1));
    std::vector<int64_t> idx(static_cast<size_t>(rank - 1), 0);
    for (int64_t r = 0; r < rows; ++r) {
        int64_t offset = 0;
        for (int64_t d = 0; d + 1 < rank; ++d) offset += idx[d] * x.stride(d);
        f(x.data() + offset, n, stride, r);
        // Advance the index of the outer dims like an odometer.
        for (int64_t d = rank - 2; d >= 0; --d) {
            if (++idx[d] < x.size(d)) break;
            idx[d] = 0;
        }
    }
}

// The permutation that moves dim d to the end, keeping the others in order.
std::vector<int64_t> dim_last_order(int64_t rank, int64_t d) {
    std::vector<int64_t> order;
    for (int64_t i = 0; i < rank; ++i)
        if (i != d) order.push_back(i);
    order.push_back(d);
    return order;
}

// Reduces every row of x along dim with row_fn(row, n, stride) -> float.
// A 0-d tensor is one row of one element; its result stays 0-d, as in PyTorch.
template <typename RowFn>
Tensor reduce_rows(const Tensor& x, int64_t dim, bool keepdim, const char* op, RowFn row_fn) {
    const int64_t d = wrap_dim(dim, x.dim(), op);
    if (x.dim() == 0) return full(Shape{}, row_fn(x.data(), 1, 1));

    Shape out_shape = x.shape();
    out_shape.erase(out_shape.begin() + d);
    Tensor out = empty(out_shape);
    float* o = out.data();
    for_each_row(x.permute(dim_last_order(x.dim(), d)),
                 [&](const float* row, int64_t n, int64_t stride, int64_t r) {
                     o[r] = row_fn(row, n, stride);
                 });
    return keepdim ? out.unsqueeze(d) : out;
}

// max and argmax have no answer for an empty row; PyTorch refuses instead of inventing one.
void check_not_empty(const Tensor& x, int64_t dim, const char* op) {
    const int64_t d = wrap_dim(dim, x.dim(), op);
    if (x.dim() > 0 && x.size(d) == 0)
        throw IndexError(fmt::format("{}: cannot reduce over dim {} of shape {}: it has size 0", op,
                                     d, to_string(x.shape())));
}

// a comes before b in descending order: larger first, NaN above every number.
bool greater(float a, float b) {
    return std::isnan(a) ? !std::isnan(b) : a > b;
}

// values (row-major in shape) -> IndexTensor of shape.permute(dims), packed: what
// Tensor::permute(dims).contiguous() does for floats, for int64 positions.
IndexTensor permute_indices(const std::vector<int64_t>& values, const Shape& shape,
                            const std::vector<int64_t>& dims) {
    const Shape from_strides = contiguous_strides(shape);
    Shape out_shape, strides;  // strides: where a step along each output dim lands in values
    for (int64_t d : dims) {
        out_shape.push_back(shape[static_cast<size_t>(d)]);
        strides.push_back(from_strides[static_cast<size_t>(d)]);
    }
    std::vector<int64_t> out;
    out.reserve(values.size());
    for_each_index(out_shape, [&](const std::vector<int64_t>& index) {
        int64_t at = 0;
        for (size_t i = 0; i < index.size(); ++i) at += index[i] * strides[i];
        out.push_back(values[static_cast<size_t>(at)]);
    });
    return IndexTensor(out_shape, std::move(out));
}

// Position of the first largest element of a non-empty row.
int64_t argmax_row(const float* row, int64_t n, int64_t stride) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; ++j)
        if (greater(row[j * stride], row[best * stride])) best = j;
    return best;
}

// Sums in double: a row of 768 float32 numbers summed in float loses a few bits, while the
// double sum rounded once to float is within half an ulp of the exact answer.
double sum_row(const float* row, int64_t n, int64_t stride) {
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j) s += row[j * stride];
    return s;
}

}  // namespace

// ---- sum, mean, max, argmax ---------------------------------------------------------------

// x (..., n, ...) -> (..., ...): the sum of each row along dim; an empty row sums to 0.
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
    if (autograd::recording(x))
        return autograd::recorded([&] { return sum(x, dim, keepdim); },
                                  [&](Tensor& out) { autograd::record_sum(out, x, dim, keepdim); });
    return reduce_rows(x, dim, keepdim, "sum", [](const float* row, int64_t n, int64_t stride) {
        return static_cast<float>(sum_row(row, n, stride));
    });
}

// sum / n; an empty row gives 0 / 0 = NaN, as in PyTorch.
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
    if (autograd::recording(x))
        return autograd::recorded(
            [&] { return mean(x, dim, keepdim); },
            [&](Tensor& out) { autograd::record_mean(out, x, dim, keepdim); });
    return reduce_rows(x, dim, keepdim, "mean", [](const float* row, int64_t n, int64_t stride) {
        if (n == 0) return std::numeric_limits<float>::quiet_NaN();
        return static_cast<float>(sum_row(row, n, stride) / static_cast<double>(n));
    });
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
    autograd::no_backward("max", x);
    check_not_empty(x, dim, "max");
    return reduce_rows(x, dim, keepdim, "max", [](const float* row, int64_t n, int64_t stride) {
        return row[argmax_row(row, n, stride) * stride];
    });
}

// The same loop as reduce_rows, writing int64 positions instead of floats.
IndexTensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
    check_not_empty(x, dim, "argmax");
    const int64_t d = wrap_dim(dim, x.dim(), "argmax");
    if (x.dim() == 0) return IndexTensor(Shape{}, {0});

    Shape out_shape = x.shape();
    out_shape.erase(out_shape.begin() + d);
    std::vector<int64_t> positions(static_cast<size_t>(numel(out_shape)));
    for_each_row(x.permute(dim_last_order(x.dim(), d)),
                 [&](const float* row, int64_t n, int64_t stride, int64_t r) {
                     positions[static_cast<size_t>(r)] = argmax_row(row, n, stride);
                 });
    if (keepdim) out_shape.insert(out_shape.begin() + d, 1);  // same order of values
    return IndexTensor(out_shape, std::move(positions));
}

Tensor Tensor::sum(int64_t dim, bool keepdim) const {
    return vitlab::sum(*this, dim, keepdim);
}
Tensor Tensor::mean(int64_t dim, bool keepdim) const {
    return vitlab::mean(*this, dim, keepdim);
}
Tensor Tensor::max(int64_t dim, bool keepdim) const {
    return vitlab::max(*this, dim, keepdim);
}
IndexTensor Tensor::argmax(int64_t dim, bool keepdim) const {
    return vitlab::argmax(*this, dim, keepdim);
}

// ---- topk ---------------------------------------------------------------------------------

// x (..., n, ...) -> values and indices (..., k, ...). Per row: sort the positions 0..n-1 by
// value, largest first, and keep the first k. std::partial_sort does only the work needed for
// k (about n log k), and the position tie-break makes the order fully defined: equal values
// keep the lower index first (PyTorch leaves the order of ties unspecified).
TopK topk(const Tensor& x, int64_t k, int64_t dim) {
    autograd::no_backward("topk", x);
    const int64_t d = wrap_dim(dim, x.dim(), "topk");
    const int64_t n = x.dim() == 0 ? 1 : x.size(d);
    if (k < 0 || k > n)
        throw IndexError(
            fmt::format("topk: k = {} is out of range for dim {} of shape {} "
                        "(expected 0 <= k <= {})",
                        k, d, to_string(x.shape()), n));
    // A 0-d tensor is its own top-1 (PyTorch returns it for k = 0 too).
    if (x.dim() == 0) return {x.clone(), IndexTensor(Shape{}, {0})};

    // Work with dim moved last: rows of n in, rows of k out, then move it back.
    const std::vector<int64_t> order = dim_last_order(x.dim(), d);
    const Tensor rows = x.permute(order);
    Shape out_shape = rows.shape();
    out_shape.back() = k;
    Tensor values = empty(out_shape);
    std::vector<int64_t> indices(static_cast<size_t>(numel(out_shape)));
    std::vector<int64_t> pos;
    for_each_row(rows, [&](const float* row, int64_t len, int64_t stride, int64_t r) {
        pos.resize(static_cast<size_t>(len));
        std::iota(pos.begin(), pos.end(), int64_t{0});
        std::partial_sort(pos.begin(), pos.begin() + k, pos.end(), [&](int64_t a, int64_t b) {
            const float va = row[a * stride], vb = row[b * stride];
            if (greater(va, vb)) return true;
            if (greater(vb, va)) return false;
            return a < b;  // equal (or both NaN): lower index first
        });
        for (int64_t j = 0; j < k; ++j) {
            values.data()[r * k + j] = row[pos[j] * stride];
            indices[static_cast<size_t>(r * k + j)] = pos[j];
        }
    });

    // inverse[order[i]] = i undoes the permute that moved dim last.
    std::vector<int64_t> inverse(order.size());
    for (size_t i = 0; i < order.size(); ++i) inverse[static_cast<size_t>(order[i])] = i;
    return {values.permute(inverse).contiguous(), permute_indices(indices, out_shape, inverse)};
}

}  // namespace vitlab
