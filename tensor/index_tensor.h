// index_tensor.h: positions with a shape, what argmax and topk return (PyTorch's LongTensor).
//
// torch.argmax and torch.topk give their indices as int64 (a LongTensor), not as floats: an
// index is used to look something up (labels[index], x.at({0, index})), and a float32 holds
// whole numbers exactly only up to 2^24. An IndexTensor is that int64 counterpart of Tensor,
// kept small on purpose: a shape and its values in row-major order, always packed, with
// bounds-checked at(), item() and to_vector(). No views, no arithmetic.
//   const TopK top = topk(probs, 5, -1);          // probs (1, 1000)
//   const int64_t best = top.indices.at({0, 0});  // indices (1, 5): no cast needed
// Read reduce.h for the functions that make one.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tensor/shape.h"

namespace vitlab {

class IndexTensor {
  public:
    // An empty 1-d index tensor, shape (0,).
    IndexTensor();
    // values laid out row-major in shape; throws ShapeError when the counts differ.
    IndexTensor(const Shape& shape, std::vector<int64_t> values);

    const Shape& shape() const { return shape_; }
    int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
    int64_t size(int64_t dim) const;  // negative dims count from the end
    int64_t numel() const { return static_cast<int64_t>(values_.size()); }

    // Bounds-checked access, negative indices count from the end: top.indices.at({0, i}).
    int64_t at(std::initializer_list<int64_t> index) const;
    int64_t at(const std::vector<int64_t>& index) const;
    // The single value of a one-element index tensor (argmax of a 1-d tensor).
    int64_t item() const;
    // All values in row-major order.
    const std::vector<int64_t>& to_vector() const { return values_; }
    const int64_t* data() const { return values_.data(); }

    // Same shape and same values.
    bool operator==(const IndexTensor& other) const {
        return shape_ == other.shape_ && values_ == other.values_;
    }
    bool operator!=(const IndexTensor& other) const { return !(*this == other); }

  private:
    Shape shape_;
    std::vector<int64_t> values_;

    int64_t offset_of(const int64_t* index, size_t n) const;
};

}  // namespace vitlab
