// linear.cpp: y = x @ weight^T + bias over the last dim of x (see linear.h).
#include "tensor/ops/linear.h"

#include <fmt/format.h>

#include "tensor/autograd.h"
#include "tensor/ops/elementwise.h"

namespace vitlab {

namespace {

// bias is Tensor() (shape (0): no bias) or holds one float per output feature.
void check_bias(const char* op, const Tensor& bias, int64_t out_features) {
    if (bias.dim() != 1 || (bias.size(0) != out_features && bias.size(0) != 0))
        throw ShapeError(fmt::format("{}: expected bias of shape ({},) or none, got {}", op,
                                     out_features, to_string(bias.shape())));
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Kernel kernel) {
    if (autograd::recording(x, weight, bias))
        return autograd::recorded(
            [&] { return linear(x, weight, bias, kernel); },
            [&](Tensor& out) { autograd::record_linear(out, x, weight, bias); });
    if (weight.dim() != 2)
        throw ShapeError(fmt::format("linear: expected a 2-d weight (out, in), got {}",
                                     to_string(weight.shape())));
    const int64_t in = weight.size(1), out = weight.size(0);
    if (x.dim() == 0 || x.size(-1) != in)
        throw ShapeError(
            fmt::format("linear: input {} does not end in in_features = {} of "
                        "weight {}",
                        to_string(x.shape()), in, to_string(weight.shape())));
    check_bias("linear", bias, out);
    if (resolve(kernel) == Kernel::Naive) {
        Tensor y = matmul(x, weight.transpose(0, 1), Kernel::Naive);  // the formula
        if (bias.numel() > 0) y += bias;
        return y;
    }
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor y = empty(out_shape);
    if (y.numel() == 0) return y;
    const int64_t m = y.numel() / out;  // rows of x (not numel / in: in may be 0)
    Tensor rows = y.view({m, out});
    const Tensor b = bias.contiguous();
    gemm_blocked(x.reshape({m, in}), weight.transpose(0, 1), rows,
                 b.numel() > 0 ? b.data() : nullptr);
    return y;
}

Tensor linear(const Tensor& x, const PackedB& weight_t, const Tensor& bias) {
    autograd::no_backward("linear with a packed weight (prepack keeps no tensor to differentiate)",
                          x);
    autograd::no_backward("linear with a packed weight", bias);
    if (x.dim() == 0 || x.size(-1) != weight_t.K)
        throw ShapeError(
            fmt::format("linear: input {} does not end in in_features = {} of the "
                        "packed weight",
                        to_string(x.shape()), weight_t.K));
    check_bias("linear", bias, weight_t.N);
    Shape out_shape = x.shape();
    out_shape.back() = weight_t.N;
    Tensor y = empty(out_shape);
    if (y.numel() == 0) return y;
    const int64_t m = y.numel() / weight_t.N;
    Tensor rows = y.view({m, weight_t.N});
    const Tensor b = bias.contiguous();
    gemm_blocked(x.reshape({m, weight_t.K}), weight_t, rows, b.numel() > 0 ? b.data() : nullptr);
    return y;
}

}  // namespace vitlab
