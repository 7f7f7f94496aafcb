// layer_norm.h: LayerNorm over the last dim, as torch.nn.functional.layer_norm(x, (C,), w, b, eps).
//
//   x (..., C), weight (C), bias (C):
//   mean = sum_i x_i / C,  var = sum_i (x_i - mean)^2 / C   (biased, as PyTorch)
//   out_i = (x_i - mean) / sqrt(var + eps) * weight_i + bias_i
// layer_norm_naive is that formula with the statistics in double; layer_norm_blocked uses
// SIMD float lanes (tensor/cpu/simd.h, one copy per instruction set) and threads. They agree within
// 1e-5.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f,
                  Kernel kernel = Kernel::Default);
Tensor layer_norm_naive(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        float eps = 1e-5f);
Tensor layer_norm_blocked(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          float eps = 1e-5f);

}  // namespace vitlab
