// cat.cpp: torch.cat, joining tensors along one existing dim (see cat.h).
//
// The output is allocated once; each input then fills its own slab of it, which is a view:
//   out = empty((1, 577, 768))
//   out.narrow(1, 0, 1).copy_(cls_token)     # (1, 1, 768)   rows 0..0
//   out.narrow(1, 1, 576).copy_(patches)     # (1, 576, 768) rows 1..576
// copy_ walks any strides, so transposed or sliced inputs need no packing first.
// Like PyTorch, a 1-d tensor of shape (0) (the old way to write "nothing") is skipped whatever
// its rank, so cat({Tensor(), x}, d) == x. Read reduce.cpp next.
#include "tensor/ops/cat.h"

#include "tensor/autograd.h"

namespace vitlab {

namespace {

// torch.tensor([]) has shape (0) and joins any list without matching its rank.
bool is_legacy_empty(const Tensor& t) {
    return t.dim() == 1 && t.size(0) == 0;
}

// All sizes but dim must agree with the first joined tensor; the message names both shapes.
void check_same_sizes(const Tensor& first, size_t first_pos, const Tensor& t, size_t pos,
                      int64_t dim) {
    if (t.dim() != first.dim())
        throw ShapeError(fmt::format(
            "cat: tensors must have the same number of dims, but tensor {} has shape {} (rank {}) "
            "and tensor {} has shape {} (rank {})",
            first_pos, to_string(first.shape()), first.dim(), pos, to_string(t.shape()), t.dim()));
    for (int64_t d = 0; d < t.dim(); ++d) {
        if (d == dim || t.size(d) == first.size(d)) continue;
        throw ShapeError(fmt::format(
            "cat: sizes must match except in dim {}, but tensor {} has shape {} and tensor {} "
            "has shape {}: size {} != {} at dim {}",
            dim, first_pos, to_string(first.shape()), pos, to_string(t.shape()), first.size(d),
            t.size(d), d));
    }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
    if (tensors.empty()) throw std::invalid_argument("cat: expected a non-empty list of tensors");
    for (const Tensor& t : tensors)
        if (autograd::recording(t))
            return autograd::recorded(
                [&] { return cat(tensors, dim); },
                [&](Tensor& out) { autograd::record_cat(out, tensors, dim); });
    for (size_t i = 0; i < tensors.size(); ++i)
        if (tensors[i].dim() == 0)
            throw ShapeError(fmt::format(
                "cat: tensor {} is 0-d (a scalar) and cannot be concatenated; unsqueeze it first",
                i));

    // The first tensor that is not a legacy empty one decides the rank and the other sizes.
    size_t first = 0;
    while (first < tensors.size() && is_legacy_empty(tensors[first])) ++first;
    if (first == tensors.size()) return Tensor();  // only empties: the result is empty too
    const Tensor& ref = tensors[first];
    const int64_t d = wrap_dim(dim, ref.dim(), "cat");

    Shape shape = ref.shape();
    shape[d] = 0;
    for (size_t i = first; i < tensors.size(); ++i) {
        if (is_legacy_empty(tensors[i])) continue;
        check_same_sizes(ref, first, tensors[i], i, d);
        shape[d] += tensors[i].size(d);
    }

    Tensor out = empty(shape);
    int64_t start = 0;
    for (size_t i = first; i < tensors.size(); ++i) {
        if (is_legacy_empty(tensors[i])) continue;
        const int64_t length = tensors[i].size(d);
        out.narrow(d, start, length).copy_(tensors[i]);
        start += length;
    }
    return out;
}

}  // namespace vitlab
