// shape.cpp: counting, printing and broadcasting shapes.
#include "tensor/shape.h"

#include <algorithm>

namespace vitlab {

int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

std::string to_string(const Shape& shape) {
    std::string out = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(shape[i]);
    }
    // One element needs the comma in Python too: (5) is just the number 5, (5,) the tuple.
    return out + (shape.size() == 1 ? ",)" : ")");
}

int64_t wrap_dim(int64_t dim, int64_t rank, const char* op) {
    // A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    const int64_t r = std::max<int64_t>(rank, 1);
    if (dim < -r || dim >= r)
        throw IndexError(
            fmt::format("{}: dim {} is out of range for a tensor of rank {} "
                        "(expected a dim in [{}, {}])",
                        op, dim, rank, -r, r - 1));
    return dim < 0 ? dim + r : dim;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    int64_t s = 1;
    for (size_t i = shape.size(); i-- > 0;) {
        strides[i] = s;
        s *= std::max<int64_t>(shape[i], 1);
    }
    return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    const size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        // Align on the right: missing leading dims count as size 1.
        const int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
        const int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
        if (sa != sb && sa != 1 && sb != 1)
            throw ShapeError(
                fmt::format("{}: shapes {} and {} cannot be broadcast: "
                            "size {} != {} at dim {}",
                            op, to_string(a), to_string(b), sa, sb, i));
        out[i] = sa == 1 ? sb : sa;
    }
    return out;
}

}  // namespace vitlab
