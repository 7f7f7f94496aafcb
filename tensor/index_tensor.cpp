// index_tensor.cpp: construction and bounds-checked reads of an IndexTensor (see index_tensor.h).
#include "tensor/index_tensor.h"

#include <utility>

namespace vitlab {

IndexTensor::IndexTensor() : shape_{0} {}

IndexTensor::IndexTensor(const Shape& shape, std::vector<int64_t> values)
    : shape_(shape), values_(std::move(values)) {
    if (vitlab::numel(shape_) != static_cast<int64_t>(values_.size()))
        throw ShapeError(fmt::format("IndexTensor: {} values do not fill shape {} ({} needed)",
                                     values_.size(), to_string(shape_), vitlab::numel(shape_)));
}

int64_t IndexTensor::size(int64_t dim) const {
    if (shape_.empty())
        throw IndexError(fmt::format("size: a 0-d index tensor has no dim {}", dim));
    return shape_[static_cast<size_t>(wrap_dim(dim, this->dim(), "size"))];
}

// Row-major position of index; each entry may be negative (from the end) and is checked.
int64_t IndexTensor::offset_of(const int64_t* index, size_t n) const {
    if (n != shape_.size())
        throw IndexError(fmt::format("at: {} indices for an index tensor of shape {} (rank {})", n,
                                     to_string(shape_), shape_.size()));
    int64_t offset = 0;
    for (size_t d = 0; d < n; ++d) {
        int64_t i = index[d];
        const int64_t size = shape_[d];
        if (i < -size || i >= size)
            throw IndexError(
                fmt::format("at: index {} is out of range for dim {} of shape {} "
                            "(expected an index in [{}, {}])",
                            i, d, to_string(shape_), -size, size - 1));
        if (i < 0) i += size;
        offset = offset * size + i;
    }
    return offset;
}

int64_t IndexTensor::at(std::initializer_list<int64_t> index) const {
    return values_[static_cast<size_t>(offset_of(index.begin(), index.size()))];
}

int64_t IndexTensor::at(const std::vector<int64_t>& index) const {
    return values_[static_cast<size_t>(offset_of(index.data(), index.size()))];
}

int64_t IndexTensor::item() const {
    if (values_.size() != 1)
        throw ShapeError(fmt::format(
            "item: expected an index tensor with one element, got shape {}", to_string(shape_)));
    return values_[0];
}

}  // namespace vitlab
