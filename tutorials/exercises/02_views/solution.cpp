// Exercise 02, the project's solution: views as arithmetic on (shape, strides, offset).
//
// None of these functions touches a number of the tensor. A view is a new way of walking the
// same storage: transpose swaps two entries, select and slice move the start (offset) and keep
// or scale the strides, flatten merges dims that already sit back to back in memory.
#include <fmt/format.h>

#include "exercise.h"

namespace vitlab::exercises {

View transpose(const View& x, int64_t dim0, int64_t dim1) {
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t a = wrap_dim(dim0, rank, "transpose");
    const int64_t b = wrap_dim(dim1, rank, "transpose");
    View out = x;
    std::swap(out.shape[a], out.shape[b]);
    std::swap(out.strides[a], out.strides[b]);
    return out;
}

View select(const View& x, int64_t dim, int64_t index) {
    const int64_t d = wrap_dim(dim, static_cast<int64_t>(x.shape.size()), "select");
    const int64_t size = x.shape[d];
    if (index < -size || index >= size)
        throw IndexError(
            fmt::format("select: index {} is out of range for dim {} of size {}", index, d, size));
    if (index < 0) index += size;
    View out = x;
    out.offset += index * x.strides[d];  // the first element of the view is x[..., index, ...]
    out.shape.erase(out.shape.begin() + d);
    out.strides.erase(out.strides.begin() + d);
    return out;
}

View slice(const View& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
    const int64_t d = wrap_dim(dim, static_cast<int64_t>(x.shape.size()), "slice");
    View out = x;
    out.shape[d] = (end - start + step - 1) / step;  // ceil: start, start+step, ... < end
    out.strides[d] = x.strides[d] * step;            // one step of the view skips step elements
    out.offset += start * x.strides[d];
    return out;
}

std::optional<View> flatten(const View& x, int64_t start_dim, int64_t end_dim) {
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t s = wrap_dim(start_dim, rank, "flatten");
    const int64_t e = wrap_dim(end_dim, rank, "flatten");
    if (s > e)
        throw IndexError(fmt::format("flatten: start_dim {} must not come after end_dim {}",
                                     start_dim, end_dim));

    // Walk the merged dims from the innermost out, skipping size-1 dims (never stepped along).
    // Each dim must start exactly one block of the previous (inner) one further:
    //   strides[d] == strides[inner] * shape[inner].
    int64_t merged_size = 1;
    for (int64_t d = s; d <= e; ++d) merged_size *= x.shape[d];
    int64_t innermost = -1, inner = -1;
    for (int64_t d = e; d >= s && merged_size > 0; --d) {  // no elements: any strides work
        if (x.shape[d] == 1) continue;
        if (inner >= 0 && x.strides[d] != x.strides[inner] * x.shape[inner]) return std::nullopt;
        if (innermost < 0) innermost = d;
        inner = d;
    }

    View out;
    out.offset = x.offset;
    for (int64_t d = 0; d < s; ++d) {
        out.shape.push_back(x.shape[d]);
        out.strides.push_back(x.strides[d]);
    }
    out.shape.push_back(merged_size);
    // One step of the merged dim is one step of its innermost dim (any stride works for size 1).
    out.strides.push_back(innermost >= 0 ? x.strides[innermost] : 1);
    for (int64_t d = e + 1; d < rank; ++d) {
        out.shape.push_back(x.shape[d]);
        out.strides.push_back(x.strides[d]);
    }
    return out;
}

}  // namespace vitlab::exercises
