// scaled_dot_product_attention_internal.h: what the attention files share (not for users).
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace vitlab::detail {

// Throws ShapeError naming op and the three shapes unless q, k, v are all (B, H, N, D).
void check_attention_args(const char* op, const Tensor& q, const Tensor& k, const Tensor& v);

// scale, or PyTorch's default 1 / sqrt(D) for q (B, H, N, D).
float attention_scale(std::optional<float> scale, const Tensor& q);

}  // namespace vitlab::detail
