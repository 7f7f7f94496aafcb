// conv2d.h: Conv2d, a 2-d convolution layer, as torch.nn.Conv2d (square kernel, groups = 1).
//
//   x (B, C_in, H, W) -> (B, C_out, H_out, W_out),  H_out = (H + 2*padding - kernel) / stride + 1
//   weight (C_out, C_in, kernel, kernel), bias (C_out)
// The arithmetic is tensor/ops/conv2d.h; this file only owns the parameters.
#pragma once

#include <cstdint>

#include "nn/init.h"
#include "nn/module.h"

namespace vitlab::nn {

class Conv2d : public Module {
  public:
    // PyTorch's default init: weight and bias uniform in +-1/sqrt(in_channels*kernel*kernel).
    Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
           int64_t padding = 0, bool bias = true, Generator& gen = default_generator());

    // Throws ShapeError if x is not 4-d with in_channels channels.
    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    int64_t in_channels, out_channels, kernel_size, stride, padding;
    Tensor weight;  // (out_channels, in_channels, kernel_size, kernel_size)
    Tensor bias;    // (out_channels), or empty when built with bias = false
};

}  // namespace vitlab::nn
