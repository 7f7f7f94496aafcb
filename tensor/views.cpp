// views.cpp: reshaping without copying. Each function only computes a new (shape, strides,
// offset) over the same storage, the way PyTorch's views do.
//
//   x (1, 768, 24, 24), strides (442368, 576, 24, 1)
//   x.flatten(2)        -> (1, 768, 576),  strides (442368, 576, 1)    merge dims 2 and 3
//   x.flatten(2).transpose(1, 2) -> (1, 576, 768), strides (442368, 1, 576)   swap two entries
// The transposed result is no longer contiguous: walking its last dim jumps 576 floats.
#include "tensor/tensor.h"

#include <algorithm>

#include "tensor/autograd.h"

namespace vitlab {

// Replaces a single -1 by the size that keeps numel; checks the total.
static Shape infer_size(const Shape& requested, int64_t numel, const char* op) {
    Shape shape = requested;
    int64_t known = 1, infer_at = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer_at >= 0)
                throw ShapeError(fmt::format("{}: only one dim can be -1 in {}", op,
                                             to_string(requested)));
            infer_at = static_cast<int64_t>(i);
        } else if (shape[i] < 0) {
            throw ShapeError(fmt::format("{}: invalid size {} in {}", op, shape[i],
                                         to_string(requested)));
        } else {
            known *= shape[i];
        }
    }
    if (infer_at >= 0) {
        if (known == 0 || numel % known != 0)
            throw ShapeError(fmt::format("{}: shape {} is invalid for input of size {}", op,
                                         to_string(requested), numel));
        shape[infer_at] = numel / known;
    } else if (known != numel) {
        throw ShapeError(fmt::format("{}: shape {} is invalid for input of size {}", op,
                                     to_string(requested), numel));
    }
    return shape;
}

// Strides for viewing (shape, strides) as new_shape without a copy, or false if impossible.
// Split the old dims, from the right, into chunks that are contiguous with each other (each
// dim's stride = the next one's stride * size). A chunk behaves like one flat run of memory, so
// any new dims whose sizes multiply to the chunk's size can view it; new dims never straddle
// two chunks.
static bool view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape,
                         Shape& out) {
    if (numel(shape) == 0 || shape.empty()) {
        out = contiguous_strides(new_shape);
        return true;
    }
    out.assign(new_shape.size(), 0);
    int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
    int64_t chunk_stride = strides.back();  // stride of the chunk's innermost element
    int64_t chunk_numel = 1, view_numel = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        chunk_numel *= shape[d];
        const bool chunk_ends =
            d == 0 || (shape[d - 1] != 1 && strides[d - 1] != chunk_numel * chunk_stride);
        if (!chunk_ends) continue;
        // Give the chunk's elements to new dims (size-1 new dims can always join).
        while (view_d >= 0 && (view_numel < chunk_numel || new_shape[view_d] == 1)) {
            out[view_d] = view_numel * chunk_stride;
            view_numel *= new_shape[view_d];
            --view_d;
        }
        if (view_numel != chunk_numel) return false;
        if (d > 0) {
            chunk_stride = strides[d - 1];
            chunk_numel = 1;
            view_numel = 1;
        }
    }
    return view_d == -1;
}

Tensor Tensor::view(const Shape& requested) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return view(requested); },
                                  [&](Tensor& out) { autograd::record_reshape(out, *this); });
    const Shape shape = infer_size(requested, numel(), "view");
    Shape strides;
    if (!view_strides(shape_, strides_, shape, strides))
        throw ShapeError(fmt::format("view: cannot view a tensor of shape {} with strides {} as "
                                     "{} without a copy; use reshape() or contiguous()",
                                     to_string(shape_), to_string(strides_), to_string(shape)));
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

Tensor Tensor::reshape(const Shape& requested) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return reshape(requested); },
                                  [&](Tensor& out) { autograd::record_reshape(out, *this); });
    const Shape shape = infer_size(requested, numel(), "reshape");
    Shape strides;
    if (view_strides(shape_, strides_, shape, strides))
        return Tensor(storage_, storage_numel_, shape, strides, offset_);
    return clone().view(shape);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return flatten(start_dim, end_dim); },
                                  [&](Tensor& out) { autograd::record_reshape(out, *this); });
    if (dim() == 0) return reshape({1});
    const int64_t s = wrap_dim(start_dim, dim(), "flatten");
    const int64_t e = wrap_dim(end_dim, dim(), "flatten");
    if (s > e)
        throw IndexError(fmt::format("flatten: start_dim {} must not come after end_dim {}",
                                     start_dim, end_dim));
    Shape shape(shape_.begin(), shape_.begin() + s);
    int64_t merged = 1;
    for (int64_t d = s; d <= e; ++d) merged *= shape_[d];
    shape.push_back(merged);
    shape.insert(shape.end(), shape_.begin() + e + 1, shape_.end());
    return reshape(shape);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return transpose(dim0, dim1); },
                                  [&](Tensor& out) { autograd::record_transpose(out, *this, dim0, dim1); });
    if (dim() == 0) {
        wrap_dim(dim0, 0, "transpose");
        wrap_dim(dim1, 0, "transpose");
        return *this;
    }
    const int64_t a = wrap_dim(dim0, dim(), "transpose");
    const int64_t b = wrap_dim(dim1, dim(), "transpose");
    Shape shape = shape_, strides = strides_;
    std::swap(shape[a], shape[b]);
    std::swap(strides[a], strides[b]);
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return permute(dims); },
                                  [&](Tensor& out) { autograd::record_permute(out, *this, dims); });
    if (static_cast<int64_t>(dims.size()) != dim())
        throw IndexError(fmt::format("permute: got {} dims for a tensor of rank {}", dims.size(),
                                     dim()));
    Shape shape(dims.size()), strides(dims.size());
    std::vector<bool> seen(dims.size(), false);
    for (size_t i = 0; i < dims.size(); ++i) {
        const int64_t d = wrap_dim(dims[i], dim(), "permute");
        if (seen[d]) throw IndexError(fmt::format("permute: dim {} is repeated", d));
        seen[d] = true;
        shape[i] = shape_[d];
        strides[i] = strides_[d];
    }
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return unsqueeze(d); },
                                  [&](Tensor& out) { autograd::record_reshape(out, *this); });
    // Valid dims for the result's rank, dim() + 1: unsqueeze(-1) appends a dim.
    if (d < -(dim() + 1) || d > dim())
        throw IndexError(fmt::format("unsqueeze: dim {} is out of range for a tensor of rank {} "
                                     "(expected a dim in [{}, {}])",
                                     d, dim(), -(dim() + 1), dim()));
    const int64_t at = d < 0 ? d + dim() + 1 : d;
    Shape shape = shape_, strides = strides_;
    // The new size-1 dim gets the stride that keeps a contiguous tensor contiguous.
    const int64_t s = at < dim() ? strides_[at] * shape_[at] : 1;
    shape.insert(shape.begin() + at, 1);
    strides.insert(strides.begin() + at, s);
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

Tensor Tensor::squeeze() const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return squeeze(); },
                                  [&](Tensor& out) { autograd::record_reshape(out, *this); });
    Shape shape, strides;
    for (size_t i = 0; i < shape_.size(); ++i) {
        if (shape_[i] == 1) continue;
        shape.push_back(shape_[i]);
        strides.push_back(strides_[i]);
    }
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

Tensor Tensor::squeeze(int64_t d) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return squeeze(d); },
                                  [&](Tensor& out) { autograd::record_reshape(out, *this); });
    if (dim() == 0) {
        wrap_dim(d, 0, "squeeze");
        return *this;
    }
    const int64_t at = wrap_dim(d, dim(), "squeeze");
    if (shape_[at] != 1) return *this;
    Shape shape = shape_, strides = strides_;
    shape.erase(shape.begin() + at);
    strides.erase(strides.begin() + at);
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
    if (autograd::recording(*this)) {
        const int64_t from = start < 0 ? start + size(d) : start;  // = slice(from, from + length)
        return autograd::recorded(
            [&] { return narrow(d, start, length); },
            [&](Tensor& out) { autograd::record_slice(out, *this, d, from, from + length, 1); });
    }
    if (dim() == 0) throw IndexError("narrow: cannot narrow a 0-d tensor");
    const int64_t at = wrap_dim(d, dim(), "narrow");
    const int64_t n = shape_[at];
    if (start < -n || start > n)
        throw IndexError(fmt::format("narrow: start {} is out of range for dim {} of size {}",
                                     start, at, n));
    if (start < 0) start += n;
    if (length < 0 || start + length > n)
        throw IndexError(fmt::format("narrow: start {} + length {} exceeds dim {} of size {}",
                                     start, length, at, n));
    Shape shape = shape_;
    shape[at] = length;
    return Tensor(storage_, storage_numel_, shape, strides_, offset_ + start * strides_[at]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return slice(d, start, end, step); },
                                  [&](Tensor& out) { autograd::record_slice(out, *this, d, start, end, step); });
    if (dim() == 0) throw IndexError("slice: cannot slice a 0-d tensor");
    if (step <= 0)
        throw std::invalid_argument(fmt::format("slice: step must be positive, got {}", step));
    const int64_t at = wrap_dim(d, dim(), "slice");
    const int64_t n = shape_[at];
    // Python slicing: negative bounds count from the end, then clamp to [0, n].
    auto clamp = [n](int64_t i) { return std::min(std::max(i < 0 ? i + n : i, int64_t{0}), n); };
    start = clamp(start);
    end = std::max(clamp(end), start);
    Shape shape = shape_, strides = strides_;
    shape[at] = (end - start + step - 1) / step;
    strides[at] = strides_[at] * step;
    return Tensor(storage_, storage_numel_, shape, strides, offset_ + start * strides_[at]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return select(d, index); },
                                  [&](Tensor& out) { autograd::record_select(out, *this, d, index); });
    if (dim() == 0) throw IndexError("select: cannot select on a 0-d tensor");
    const int64_t at = wrap_dim(d, dim(), "select");
    const int64_t n = shape_[at];
    if (index < -n || index >= n)
        throw IndexError(fmt::format("select: index {} is out of range for dim {} of size {}",
                                     index, at, n));
    if (index < 0) index += n;
    Shape shape = shape_, strides = strides_;
    shape.erase(shape.begin() + at);
    strides.erase(strides.begin() + at);
    return Tensor(storage_, storage_numel_, shape, strides, offset_ + index * strides_[at]);
}

Tensor Tensor::expand(const Shape& requested) const {
    if (autograd::recording(*this))
        return autograd::recorded([&] { return expand(requested); },
                                  [&](Tensor& out) { autograd::record_expand(out, *this); });
    if (requested.size() < shape_.size())
        throw ShapeError(fmt::format("expand: cannot expand {} to fewer dims {}",
                                     to_string(shape_), to_string(requested)));
    const size_t lead = requested.size() - shape_.size();
    Shape shape(requested.size()), strides(requested.size());
    for (size_t i = 0; i < requested.size(); ++i) {
        if (i < lead) {
            if (requested[i] < 0)
                throw ShapeError(fmt::format("expand: -1 is not allowed for the new leading dim "
                                             "{} in {}", i, to_string(requested)));
            shape[i] = requested[i];
            strides[i] = 0;
            continue;
        }
        const int64_t have = shape_[i - lead];
        const int64_t want = requested[i] == -1 ? have : requested[i];
        if (have == want) {
            shape[i] = have;
            strides[i] = strides_[i - lead];
        } else if (have == 1 && want >= 0) {
            shape[i] = want;
            strides[i] = 0;  // every index reads the same element
        } else {
            throw ShapeError(fmt::format("expand: cannot expand {} to {}: size {} at dim {} is "
                                         "not 1",
                                         to_string(shape_), to_string(requested), have, i));
        }
    }
    return Tensor(storage_, storage_numel_, shape, strides, offset_);
}

}  // namespace vitlab
