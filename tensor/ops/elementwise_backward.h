// elementwise_backward.h: gradients of add, sub, mul, div with broadcasting (elementwise.h).
//
// For out = a (op) b, with out's shape the broadcast of a's and b's, and dy = dL/dout:
//   add:  da = dy                 db = dy
//   sub:  da = dy                 db = -dy
//   mul:  da = dy * b             db = dy * a
//   div:  da = dy / b             db = -dy * a / b^2
// each then summed back to its input's shape (sum_to): an input read with stride 0 along a
// broadcast dim fed every output along it, so its gradient is the sum over that dim.
//   a (2, 3, 4) + b (4):  db[j] = sum_{i,k} dy[i][k][j]
// Read elementwise_backward.cpp for sum_to, then reduce_backward.h.
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

// The gradients of a binary op's two inputs, each with its input's shape (contiguous).
struct BinaryGrads {
    Tensor da, db;
};

// grad (broadcast shape) summed down to shape: over the leading dims shape lacks, and over
// every dim where shape has size 1 and grad does not. Sums are kept in double. Throws
// ShapeError when shape does not broadcast to grad's shape.
Tensor sum_to(const Tensor& grad, const Shape& shape);

BinaryGrads add_backward(const Tensor& dy, const Shape& a_shape, const Shape& b_shape);
BinaryGrads sub_backward(const Tensor& dy, const Shape& a_shape, const Shape& b_shape);
BinaryGrads mul_backward(const Tensor& dy, const Tensor& a, const Tensor& b);
BinaryGrads div_backward(const Tensor& dy, const Tensor& a, const Tensor& b);

}  // namespace vitlab
