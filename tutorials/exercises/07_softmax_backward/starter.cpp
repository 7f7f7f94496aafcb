// Exercise 07: the backward of softmax. Read README.md, write the body below, then run
//   make exercise N=7
#include "exercise.h"

namespace vitlab::exercises {

// y = softmax(x, dim) (the forward's output), dy = dloss/dy, both the same shape -> dx, that
// shape. For every slice along dim (one row of attention scores):
//   s    = sum_j dy_j * y_j                  one number per row
//   dx_i = y_i * (dy_i - s)
// The backward needs only y, not x: y = softmax(x) already holds everything.
// Attention uses it on the probabilities (B, heads, N, N) along dim -1.
// Throw ShapeError (message starting "softmax_backward:") if dy and y differ in shape.
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim) {
    // TODO(student): bring dim to the end of both dy and y, as packed copies of your own
    // (transpose(d, -1).clone()), then for each row: s = sum(dy * y), dx = y * (dy - s);
    // then move dim back. Do not drop s: that is the classic mistake, and a check catches it.
    return Tensor();
}

}  // namespace vitlab::exercises
