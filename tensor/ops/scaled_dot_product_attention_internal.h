// scaled_dot_product_attention_internal.h: what the attention files share (not for users).
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace vitlab::detail {

// Throws ShapeError naming op and the three shapes unless q, k, v are all (B, H, N, D).
void check_attention_args(const char* op, const Tensor& q, const Tensor& k, const Tensor& v);

// scale, or PyTorch's default 1 / sqrt(D) for q (B, H, N, D).
float attention_scale(std::optional<float> scale, const Tensor& q);

// The blocked backward (scaled_dot_product_attention_backward.h) written into dq, dk, dv,
// (B, H, N, D) tensors or views whose last dim is contiguous: a head at a time on the kernel
// of tensor/cpu/attention_kernels.cpp, heads shared out between threads.
void attention_backward_into(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, float scale, Tensor& dq, Tensor& dk, Tensor& dv);

}  // namespace vitlab::detail
