// dropout.cpp: dropout forward and backward (see dropout.h).
#include "tensor/ops/dropout.h"

#include "tensor/autograd.h"
#include "tensor/ops/elementwise.h"

namespace vitlab {

DropoutResult dropout(const Tensor& x, float p, Generator& gen, bool training) {
    if (!(p >= 0.0f && p <= 1.0f))
        throw std::invalid_argument(fmt::format("dropout: p must be in [0, 1], got {}", p));
    if (!training || p == 0.0f) return {x.clone(), Tensor()};  // clone records itself
    Tensor mask = empty(x.shape());
    const float keep = p == 1.0f ? 0.0f : 1.0f / (1.0f - p);
    for (int64_t i = 0; i < mask.numel(); ++i) mask.data()[i] = gen.uniform() >= p ? keep : 0.0f;
    if (!autograd::recording(x)) return {x * mask, mask};
    Tensor out;
    {
        autograd::NoGrad guard;
        out = x * mask;
    }
    autograd::record_dropout(out, x, mask);
    return {out, mask};
}

Tensor dropout_backward(const Tensor& dy, const Tensor& mask) {
    if (mask.shape() == Shape{0}) return dy.clone();  // nothing was dropped
    if (mask.shape() != dy.shape())
        throw ShapeError(fmt::format("dropout_backward: dy {} and mask {} must have the same shape",
                                     to_string(dy.shape()), to_string(mask.shape())));
    return dy * mask;
}

}  // namespace vitlab
