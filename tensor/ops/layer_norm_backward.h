// layer_norm_backward.h: gradients of layer_norm over the last dim (layer_norm.h).
//
// One row of C numbers, with mean and rstd = 1 / sqrt(var + eps) of the row:
//   xhat_i = (x_i - mean) * rstd,   y_i = xhat_i * weight_i + bias_i
//   dbias_i   = sum over rows of dy_i
//   dweight_i = sum over rows of dy_i * xhat_i
//   g_i = dy_i * weight_i                                  (the gradient reaching xhat)
//   dx_i = rstd * (g_i - mean_j(g_j) - xhat_i * mean_j(g_j * xhat_j))
// The two means are there because mean and var depend on every x_j of the row: moving x_i
// shifts the mean (-mean(g)) and the variance (-xhat_i mean(g xhat)). Treat them as
// constants and only dx_i = rstd * g_i is left, the classic mistake.
// The backward recomputes mean and rstd from x instead of keeping them. Naive: in double, one
// float at a time. Blocked: in float a register at a time (tensor/cpu/layer_norm_kernels.cpp),
// threads over blocks of rows; each block's dweight, dbias are added up in double.
// Read gelu_backward.h next.
#pragma once

#include "tensor/ops/kernel.h"
#include "tensor/tensor.h"

namespace vitlab {

struct LayerNormGrads {
    Tensor dx, dweight, dbias;  // x's shape, (C), (C)
};

LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   float eps = 1e-5f, Kernel kernel = Kernel::Default);

}  // namespace vitlab
