// conv2d.cpp: the conv2d entry point: argument checks, output size, choice of kernel.
//
// The two implementations sit next to this file: conv2d_naive.cpp (the formula of conv2d.h
// as loops; read it first) and conv2d_blocked.cpp (im2col + one matrix product). Both call
// conv2d_output_shape below, so every mistake is reported the same way whichever one runs.
#include "tensor/ops/conv2d.h"

#include <fmt/format.h>

#include "tensor/autograd.h"
#include "tensor/ops/conv2d_internal.h"

namespace vitlab {

namespace detail {

// Declared in conv2d_internal.h for conv2d_naive.cpp and conv2d_blocked.cpp.
Shape conv2d_output_shape(const Tensor& input, const Tensor& weight, const Tensor& bias,
                          int64_t stride, int64_t padding) {
    const Shape& in = input.shape();
    const Shape& w = weight.shape();
    if (in.size() != 4)
        throw ShapeError(
            fmt::format("conv2d: expected input of shape (N, C_in, H, W), got {}", to_string(in)));
    if (w.size() != 4)
        throw ShapeError(fmt::format(
            "conv2d: expected weight of shape (C_out, C_in, kH, kW), got {}", to_string(w)));
    if (stride < 1)
        throw ShapeError(
            fmt::format("conv2d: stride must be at least 1, got {} (input {}, "
                        "weight {})",
                        stride, to_string(in), to_string(w)));
    if (padding < 0)
        throw ShapeError(
            fmt::format("conv2d: padding must be at least 0, got {} (input {}, "
                        "weight {})",
                        padding, to_string(in), to_string(w)));
    if (in[1] != w[1])
        throw ShapeError(fmt::format("conv2d: input {} has {} channels but weight {} expects {}",
                                     to_string(in), in[1], to_string(w), w[1]));
    // No bias is written as an empty tensor, like bias=None in torch.
    if (bias.numel() != 0 && bias.shape() != Shape{w[0]})
        throw ShapeError(
            fmt::format("conv2d: bias {} does not match weight {}: expected ({},) "
                        "or an empty tensor",
                        to_string(bias.shape()), to_string(w), w[0]));
    if (w[2] == 0 || w[3] == 0)
        throw ShapeError(fmt::format("conv2d: weight {} has an empty kernel", to_string(w)));
    const int64_t padded_h = in[2] + 2 * padding, padded_w = in[3] + 2 * padding;
    if (w[2] > padded_h || w[3] > padded_w)
        throw ShapeError(
            fmt::format("conv2d: kernel {}x{} of weight {} is larger than the padded "
                        "input {}x{} (input {}, padding {})",
                        w[2], w[3], to_string(w), padded_h, padded_w, to_string(in), padding));
    const int64_t h_out = (padded_h - w[2]) / stride + 1;
    const int64_t w_out = (padded_w - w[3]) / stride + 1;
    return Shape{in[0], w[0], h_out, w_out};
}

}  // namespace detail

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride,
              int64_t padding, Kernel kernel) {
    if (autograd::recording(input, weight, bias))
        return autograd::recorded(
            [&] { return conv2d(input, weight, bias, stride, padding, kernel); },
            [&](Tensor& out) {
                autograd::record_conv2d(out, input, weight, bias, stride, padding);
            });
    if (resolve(kernel) == Kernel::Naive) return conv2d_naive(input, weight, bias, stride, padding);
    return conv2d_blocked(input, weight, bias, stride, padding);
}

}  // namespace vitlab
