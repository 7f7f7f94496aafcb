// elementwise_backward.cpp: add/sub/mul/div backward and sum_to (formulas in the header).
//
// sum_to walks grad once, in row-major order, and adds each element into the output element
// it came from. That element is found through the output's strides *expanded* to grad's shape:
// a broadcast dim has stride 0 there, so every position along it lands on the same number.
//   shape (1, 4) summed from grad (3, 4): strides (0, 1), so grad[i][j] -> out[0][j]
#include "tensor/ops/elementwise_backward.h"

#include <vector>

#include "tensor/ops/elementwise.h"

namespace vitlab {

Tensor sum_to(const Tensor& grad, const Shape& shape) {
    if (grad.shape() == shape) return grad.contiguous();
    if (broadcast_shapes(shape, grad.shape(), "sum_to") != grad.shape())
        throw ShapeError(fmt::format("sum_to: cannot sum a gradient of shape {} down to {}",
                                     to_string(grad.shape()), to_string(shape)));
    const Shape& gs = grad.shape();
    const size_t rank = gs.size();
    // Strides of the output (contiguous, of `shape`), aligned right to grad's dims, 0 where
    // the output is broadcast.
    const Shape out_strides = contiguous_strides(shape);
    std::vector<int64_t> s(rank, 0);
    const size_t lead = rank - shape.size();
    for (size_t d = lead; d < rank; ++d) s[d] = shape[d - lead] == 1 ? 0 : out_strides[d - lead];

    std::vector<double> acc(static_cast<size_t>(numel(shape)), 0.0);
    std::vector<int64_t> idx(rank, 0);
    const int64_t n = grad.numel();
    for (int64_t done = 0; done < n; ++done) {
        int64_t gi = 0, oi = 0;
        for (size_t d = 0; d < rank; ++d) {
            gi += idx[d] * grad.strides()[d];
            oi += idx[d] * s[d];
        }
        acc[static_cast<size_t>(oi)] += grad.data()[gi];
        for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < gs[d]) break;
            idx[d] = 0;
        }
    }
    Tensor out = empty(shape);
    for (size_t i = 0; i < acc.size(); ++i) out.data()[i] = static_cast<float>(acc[i]);
    return out;
}

BinaryGrads add_backward(const Tensor& dy, const Shape& a_shape, const Shape& b_shape) {
    return {sum_to(dy, a_shape), sum_to(dy, b_shape)};
}

BinaryGrads sub_backward(const Tensor& dy, const Shape& a_shape, const Shape& b_shape) {
    return {sum_to(dy, a_shape), sum_to(-dy, b_shape)};
}

BinaryGrads mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b) {
    return {sum_to(dy * b, a.shape()), sum_to(dy * a, b.shape())};
}

BinaryGrads div_backward(const Tensor& dy, const Tensor& a, const Tensor& b) {
    const Tensor da_full = dy / b;  // dy / b, then db = -(dy / b) * a / b
    return {sum_to(da_full, a.shape()), sum_to(-(da_full * a / b), b.shape())};
}

}  // namespace vitlab
