// scaled_dot_product_attention_internal.h: what the attention files share (not for users).
#pragma once

#include <initializer_list>
#include <optional>

#include "tensor/tensor.h"

namespace vitlab::detail {

// Throws ShapeError naming op and the three shapes unless q, k, v are all (B, H, N, D).
void check_attention_args(const char* op, const Tensor& q, const Tensor& k, const Tensor& v);

// scale, or PyTorch's default 1 / sqrt(D) for q (B, H, N, D).
float attention_scale(std::optional<float> scale, const Tensor& q);

// Whether the whole-head kernels of tensor/cpu/attention_kernels.cpp take these heads: their
// head dim D is 1 to 4 registers and every row is contiguous (stride(3) == 1). All of `heads`
// are (B, H, N, D) of one shape.
bool whole_heads(std::initializer_list<const Tensor*> heads);

// Asks the cache for head (b, h) of t (B, H, N, D), rows contiguous: a head's rows are N
// pieces of D floats, a qkv row apart, which the hardware prefetcher does not guess. Called
// for the next head before working on this one, they arrive while it computes.
void prefetch_head(const Tensor& t, int64_t b, int64_t h);

// The blocked backward (scaled_dot_product_attention_backward.h) written into dq, dk, dv,
// (B, H, N, D) tensors or views whose last dim is contiguous: a head at a time on the kernel
// of tensor/cpu/attention_kernels.cpp, heads shared out between threads.
void attention_backward_into(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& out, float scale, Tensor& dq, Tensor& dk, Tensor& dv);

}  // namespace vitlab::detail
