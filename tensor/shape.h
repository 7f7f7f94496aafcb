// shape.h: the Shape of a tensor and how dims are counted (its errors: tensor/errors.h).
//
// A Shape is a list of sizes in PyTorch order, outermost first: an image batch is
// (N, C, H, W), a token sequence is (B, N, C). It prints the way PyTorch's tuples do,
// "(1, 576, 768)". Negative dims count from the end, exactly as in PyTorch: dim -1 is the
// last one. Read tensor.h next.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/errors.h"

namespace vitlab {

// Sizes (or strides) of a tensor, outermost first.
struct Shape : std::vector<int64_t> {
    using std::vector<int64_t>::vector;
    Shape() = default;
    Shape(const std::vector<int64_t>& v) : std::vector<int64_t>(v) {}
};

// Product of the sizes (1 for a 0-d shape).
int64_t numel(const Shape& shape);

// "(1, 576, 768)", as Python prints the tuple tuple(x.shape): a 0-d shape prints "()" and a
// 1-d one "(5,)".
std::string to_string(const Shape& shape);

// Maps dim in [-rank, rank) to [0, rank); anything else throws IndexError naming op, dim, rank.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);

// Contiguous (row-major) strides of a shape: the last dim has stride 1.
Shape contiguous_strides(const Shape& shape);

// Shape that a and b broadcast to under PyTorch's rules (align right; sizes equal or 1).
// Throws ShapeError naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace vitlab

template <>
struct fmt::formatter<vitlab::Shape> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const vitlab::Shape& s, FormatContext& ctx) const {
        const std::string text = vitlab::to_string(s);
        return fmt::formatter<std::string_view>::format(text, ctx);
    }
};
