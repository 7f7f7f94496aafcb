// exercise.h: the functions of exercise 02, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the bodies in starter.cpp.
#pragma once

#include <optional>

#include "tensor/ops.h"

namespace vitlab::exercises {

// Where a tensor's numbers are, without the numbers: element (i0, ..., ik) lives at
//   storage[offset + i0*strides[0] + ... + ik*strides[k]].
struct View {
    Shape shape;
    Shape strides;
    int64_t offset = 0;
};

// The geometry of an existing tensor, to start from.
inline View view_of(const Tensor& x) {
    return View{x.shape(), x.strides(), x.storage_offset()};
}

// x.transpose(dim0, dim1): swap two dims.
View transpose(const View& x, int64_t dim0, int64_t dim1);
// x.select(dim, index), Python's x[:, index]: remove dim, keep only position index.
View select(const View& x, int64_t dim, int64_t index);
// x.slice(dim, start, end, step), Python's x[:, start:end:step], with 0 <= start <= end <= size.
View slice(const View& x, int64_t dim, int64_t start, int64_t end, int64_t step);
// x.flatten(start_dim, end_dim) when it can be a view of the same storage; std::nullopt when
// the dims to merge do not lie evenly in memory (then PyTorch's flatten must copy).
std::optional<View> flatten(const View& x, int64_t start_dim, int64_t end_dim);

}  // namespace vitlab::exercises
