// cat_backward.cpp: cat and view backward (formulas in cat_backward.h).
#include "tensor/ops/cat_backward.h"

#include "tensor/ops/elementwise_backward.h"

namespace vitlab {

std::vector<Tensor> cat_backward(const Tensor& dy, const std::vector<Shape>& input_shapes,
                                 int64_t dim) {
    const int64_t d = wrap_dim(dim, dy.dim(), "cat_backward");
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (const Shape& s : input_shapes) {
        if (s.size() == 1 && s[0] == 0 && dy.dim() != 1) {  // legacy empty: not joined
            grads.push_back(Tensor());
            continue;
        }
        if (static_cast<int64_t>(s.size()) != dy.dim() || start + s[d] > dy.size(d))
            throw ShapeError(fmt::format("cat_backward: input {} does not fit dy {} along dim {}",
                                         to_string(s), to_string(dy.shape()), d));
        grads.push_back(dy.narrow(d, start, s[d]));
        start += s[d];
    }
    if (start != dy.size(d))
        throw ShapeError(fmt::format("cat_backward: the inputs cover {} of dy {}'s {} along dim {}",
                                     start, to_string(dy.shape()), dy.size(d), d));
    return grads;
}

Tensor reshape_backward(const Tensor& dy, const Shape& x_shape) {
    return dy.reshape(x_shape);
}

Tensor transpose_backward(const Tensor& dy, int64_t dim0, int64_t dim1) {
    return dy.transpose(dim0, dim1);
}

Tensor permute_backward(const Tensor& dy, const std::vector<int64_t>& dims) {
    // dy's dim i is x's dim dims[i]: put each back where it came from.
    std::vector<int64_t> inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i)
        inverse[static_cast<size_t>(wrap_dim(dims[i], dy.dim(), "permute_backward"))] =
            static_cast<int64_t>(i);
    return dy.permute(inverse);
}

namespace {

// dy must have exactly the shape of the part of x the view kept (copy_ would broadcast).
void check_part(const Tensor& part, const Tensor& dy, const Shape& x_shape, const char* op) {
    if (part.shape() != dy.shape())
        throw ShapeError(fmt::format("{}: dy has shape {}, but the view of x {} has shape {}", op,
                                     to_string(dy.shape()), to_string(x_shape),
                                     to_string(part.shape())));
}

}  // namespace

Tensor select_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, int64_t index) {
    Tensor dx = zeros(x_shape);
    Tensor part = dx.select(dim, index);
    check_part(part, dy, x_shape, "select_backward");
    part.copy_(dy);
    return dx;
}

Tensor slice_backward(const Tensor& dy, const Shape& x_shape, int64_t dim, int64_t start,
                      int64_t end, int64_t step) {
    Tensor dx = zeros(x_shape);
    Tensor part = dx.slice(dim, start, end, step);
    check_part(part, dy, x_shape, "slice_backward");
    part.copy_(dy);
    return dx;
}

Tensor expand_backward(const Tensor& dy, const Shape& x_shape) {
    return sum_to(dy, x_shape);
}

}  // namespace vitlab
