// layer_norm.cpp: the LayerNorm layer owns weight and bias and calls tensor/ops layer_norm.
#include "nn/layer_norm.h"

#include "nn/init.h"
#include "tensor/ops.h"

namespace vitlab::nn {

LayerNorm::LayerNorm(int64_t dim, float eps) : dim(dim), eps(eps) {
    if (dim <= 0)
        throw std::invalid_argument(fmt::format("LayerNorm: dim must be positive, got {}", dim));
    weight = empty({dim});
    ones_(weight);
    bias = empty({dim});
    zeros_(bias);
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const Tensor& x) const {
    if (x.dim() == 0 || x.size(-1) != dim) {
        Shape expected = x.dim() == 0 ? Shape{dim} : x.shape();
        expected.back() = dim;
        throw ShapeError(fmt::format("LayerNorm({}): expected input of shape {}, got {}", dim,
                                     expected, x.shape()));
    }
    return layer_norm(x, weight, bias, eps);
}

}  // namespace vitlab::nn
