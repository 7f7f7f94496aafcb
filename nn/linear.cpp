// linear.cpp: y = x @ weight^T + bias over the last dim.
#include "nn/linear.h"

#include "tensor/ops.h"

namespace vitlab::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen)
    : in_features(in_features), out_features(out_features) {
    if (in_features <= 0 || out_features <= 0)
        throw std::invalid_argument(
            fmt::format("Linear: in_features and out_features must be positive, got {} and {}",
                        in_features, out_features));
    weight = empty({out_features, in_features});  // filled just below
    trunc_normal_(weight, gen, 0.0f, 0.02f, -2.0f, 2.0f);
    register_parameter("weight", &weight);
    if (bias) {
        this->bias = empty({out_features});
        zeros_(this->bias);
        register_parameter("bias", &this->bias);
    }
}

Tensor Linear::forward(const Tensor& x) const {
    if (x.dim() == 0 || x.size(-1) != in_features) {
        Shape expected = x.dim() == 0 ? Shape{in_features} : x.shape();
        expected.back() = in_features;
        throw ShapeError(fmt::format("Linear({}, {}): expected input of shape {}, got {}",
                                     in_features, out_features, expected, x.shape()));
    }
    // (..., in) @ (in, out) + bias -> (..., out): one big matrix product, the bias added to
    // each tile as it is finished (tensor/ops/linear.h).
    return vitlab::linear(x, weight, bias);
}

}  // namespace vitlab::nn
