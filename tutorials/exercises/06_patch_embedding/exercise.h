// exercise.h: the function of exercise 06, declared once for starter.cpp, solution.cpp and
// check.cpp. The task is in README.md; write the body in starter.cpp.
#pragma once

#include "tensor/ops.h"

namespace vitlab::exercises {

// The ViT patch embedding (图像块嵌入) without a convolution: cut into patches, one matmul.
//   images (B, C, H, W), weight (D, C, P, P) (a Conv2d's weight), bias (D), patch = P
//   -> (B, N, D) with N = (H / P) * (W / P), the same as
//      conv2d(images, weight, bias, stride = P).flatten(2).transpose(1, 2)
Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t patch);

}  // namespace vitlab::exercises
