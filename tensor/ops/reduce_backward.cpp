// reduce_backward.cpp: sum and mean backward, a broadcast of dy (see reduce_backward.h).
#include "tensor/ops/reduce_backward.h"

#include "tensor/ops/elementwise.h"

namespace vitlab {

namespace {

// dy (x's shape without dim, or with it as 1) -> expanded to x's shape, packed.
Tensor spread(const Tensor& dy, const Shape& x_shape, int64_t dim, bool keepdim, const char* op) {
    const int64_t rank = static_cast<int64_t>(x_shape.size());
    if (rank == 0) {  // a 0-d x reduces to a 0-d y: the gradient passes through
        if (dy.numel() != 1)
            throw ShapeError(
                fmt::format("{}: expected dy of shape (), got {}", op, to_string(dy.shape())));
        return dy.contiguous().reshape(Shape{});
    }
    const int64_t d = wrap_dim(dim, rank, op);
    Shape y_shape = x_shape;
    y_shape[d] = 1;
    Shape expected = y_shape;
    if (!keepdim) expected.erase(expected.begin() + d);
    if (dy.shape() != expected)
        throw ShapeError(fmt::format("{}: dy has shape {}, expected {} (x {} reduced over dim {})",
                                     op, to_string(dy.shape()), to_string(expected),
                                     to_string(x_shape), d));
    const Tensor dy_keep = keepdim ? dy : dy.unsqueeze(d);
    return dy_keep.expand(x_shape).clone();
}

}  // namespace

Tensor sum_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, bool keepdim) {
    return spread(dy, x_shape, dim, keepdim, "sum_backward");
}

Tensor mean_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, bool keepdim) {
    Tensor dx = spread(dy, x_shape, dim, keepdim, "mean_backward");
    const int64_t n = x_shape.empty() ? 1 : x_shape[wrap_dim(dim, x_shape.size(), "mean")];
    dx *= 1.0f / static_cast<float>(n);
    return dx;
}

}  // namespace vitlab
