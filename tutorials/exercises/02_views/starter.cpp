// Exercise 02: flatten (展平) and transpose (转置) as views. Read README.md, write the four
// bodies below, then run
//   make exercise N=2
// You only compute numbers: a View is (shape, strides, offset); no element is read or copied.
#include "exercise.h"

namespace vitlab::exercises {

// x (..., a, ..., b, ...) -> (..., b, ..., a, ...): swap shape[dim0] with shape[dim1] and
// strides[dim0] with strides[dim1]; the offset stays.
//   (1, 768, 576) strides (442368, 576, 1)
//     -> transpose(1, 2) -> (1, 576, 768) strides (442368, 1, 576)
// Negative dims count from the end: wrap_dim(dim, rank, "transpose") maps them to [0, rank).
View transpose(const View& x, int64_t dim0, int64_t dim1) {
    // TODO(student): wrap both dims, copy x, swap the two sizes and the two strides.
    return View{};
}

// x[:, index] on dim: the dim disappears from shape and strides, and the view starts
//   offset + index * strides[dim]  further into the storage. Negative index counts from the end.
//   (2, 577, 768) strides (443136, 768, 1)
//     -> select(1, 0) -> (2, 768) strides (443136, 1), offset 0
// Throw IndexError (message starting "select:") when index is outside [-size, size).
View select(const View& x, int64_t dim, int64_t index) {
    // TODO(student): wrap dim, check and wrap index, erase the dim, move the offset.
    return View{};
}

// x[..., start:end:step] on dim (0 <= start <= end <= size, step >= 1):
//   size = ceil((end - start) / step),  offset += start * stride,  then stride *= step.
//   (4, 10) strides (10, 1) -> slice(1, 2, 9, 3) -> (4, 3) strides (10, 3), offset 2
View slice(const View& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
    // TODO(student): wrap dim, then set the new size, stride and offset.
    return View{};
}

// Merge dims start_dim..end_dim (inclusive) into one of size = product of their sizes.
// It is a view when, walking the merged dims, each dim's stride equals the next dim's stride
// times the next dim's size (size-1 dims can be skipped: their stride is never used); the merged
// dim then has the stride of the innermost merged dim. Otherwise return std::nullopt.
//   (1, 768, 24, 24) strides (442368, 576, 24, 1)
//     -> flatten(2, 3) -> (1, 768, 576) strides (442368, 576, 1)
//   (4, 3) strides (1, 4), a transposed (3, 4)
//     -> flatten(0, 1) -> std::nullopt
std::optional<View> flatten(const View& x, int64_t start_dim, int64_t end_dim) {
    // TODO(student): wrap both dims, check that the merged dims lie evenly in memory, build
    // the new shape and strides.
    return View{};
}

}  // namespace vitlab::exercises
