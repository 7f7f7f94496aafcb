// conv2d.cpp: the Conv2d layer owns weight and bias and calls tensor/ops conv2d.
#include "nn/conv2d.h"

#include <cmath>

#include "tensor/ops.h"

namespace vitlab::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
               int64_t padding, bool bias, Generator& gen)
    : in_channels(in_channels),
      out_channels(out_channels),
      kernel_size(kernel_size),
      stride(stride),
      padding(padding) {
    if (in_channels <= 0 || out_channels <= 0 || kernel_size <= 0 || stride <= 0 || padding < 0)
        throw std::invalid_argument(fmt::format(
            "Conv2d: channels, kernel_size and stride must be positive and padding >= 0, got "
            "in_channels {}, out_channels {}, kernel_size {}, stride {}, padding {}",
            in_channels, out_channels, kernel_size, stride, padding));
    // PyTorch's reset_parameters: kaiming_uniform(a = sqrt(5)) gives the bound 1/sqrt(fan_in)
    // for the weight, and the bias uses the same bound. timm keeps this for the patch conv.
    const float bound = 1.0f / std::sqrt(float(in_channels * kernel_size * kernel_size));
    weight = empty({out_channels, in_channels, kernel_size, kernel_size});
    uniform_(weight, gen, -bound, bound);
    register_parameter("weight", &weight);
    if (bias) {
        this->bias = empty({out_channels});
        uniform_(this->bias, gen, -bound, bound);
        register_parameter("bias", &this->bias);
    }
}

Tensor Conv2d::forward(const Tensor& x) const {
    if (x.dim() != 4 || x.size(1) != in_channels)
        throw ShapeError(
            fmt::format("Conv2d({}, {}): expected input of shape (B, {}, H, W), got {}",
                        in_channels, out_channels, in_channels, x.shape()));
    return conv2d(x, weight, bias, stride, padding);
}

}  // namespace vitlab::nn
