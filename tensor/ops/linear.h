// linear.h: y = x @ weight^T + bias, torch.nn.functional.linear.
//
//   x (..., in), weight (out, in), bias (out) or an empty Tensor() for none  ->  y (..., out)
//
// The naive kernel is the formula: matmul_naive, then y += bias. The blocked kernel adds the
// bias inside gemm_blocked, to each tile of y while it is still in registers, which saves a
// second pass over y (a 5 MB read and write for ViT-B's qkv layer) and gives the same bits as
// matmul_blocked followed by y += bias. A weight packed once (pack_b(weight.transpose(0, 1)),
// see matmul.h) goes through the second form.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/ops/matmul.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
              Kernel kernel = Kernel::Default);
Tensor linear(const Tensor& x, const PackedB& weight_t, const Tensor& bias);

}  // namespace vitlab
