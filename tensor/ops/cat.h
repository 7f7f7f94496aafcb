// cat.h: torch.cat, joining tensors along an existing dim.
//
//   cat({(1, 1, 768), (1, 576, 768)}, 1) -> (1, 577, 768)    (class token + patches)
// All other sizes must agree; the result is a new contiguous tensor.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace vitlab {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);

}  // namespace vitlab
