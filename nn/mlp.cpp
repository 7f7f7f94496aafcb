// mlp.cpp: fc1 -> GELU -> fc2.
#include "nn/mlp.h"

namespace vitlab::nn {

Mlp::Mlp(int64_t in_features, int64_t hidden_features, Generator& gen)
    : fc1(in_features, hidden_features, true, gen), fc2(hidden_features, in_features, true, gen) {
    register_module("fc1", &fc1);
    register_module("act", &act);
    register_module("fc2", &fc2);
}

Tensor Mlp::forward(const Tensor& x) const {
    return fc2(act(fc1(x)));
}

}  // namespace vitlab::nn
