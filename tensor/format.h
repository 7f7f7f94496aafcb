// format.h: printing tensors with fmt, the way PyTorch's repr does.
//
//   fmt::print("{}\n", x)  ->  tensor([[ 0.1234, -1.0000],
//                                      [ 2.5000,  0.0000]])
// Tensors with more than 1000 elements are summarised: the first and last 3 entries of each
// dim with "..." between. fmt::print("{}", x.shape()) prints "(2, 2)" (see shape.h).
// fmt::print("{}", top.indices) prints an IndexTensor the same way, with whole numbers.
#pragma once

#include <fmt/format.h>

#include <string>

#include "tensor/tensor.h"

namespace vitlab {

std::string repr(const Tensor& x);
// Indices print as PyTorch prints a LongTensor: tensor([[3, 1],
//                                                       [0, 2]])
std::string repr(const IndexTensor& x);

}  // namespace vitlab

template <>
struct fmt::formatter<vitlab::Tensor> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const vitlab::Tensor& x, FormatContext& ctx) const {
        const std::string text = vitlab::repr(x);
        return fmt::formatter<std::string_view>::format(text, ctx);
    }
};

template <>
struct fmt::formatter<vitlab::IndexTensor> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const vitlab::IndexTensor& x, FormatContext& ctx) const {
        const std::string text = vitlab::repr(x);
        return fmt::formatter<std::string_view>::format(text, ctx);
    }
};
