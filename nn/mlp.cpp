// mlp.cpp: fc1 -> GELU -> fc2.
#include "nn/mlp.h"

#include "tensor/autograd.h"

namespace vitlab::nn {

Mlp::Mlp(int64_t in_features, int64_t hidden_features, Generator& gen)
    : fc1(in_features, hidden_features, true, gen), fc2(hidden_features, in_features, true, gen) {
    register_module("fc1", &fc1);
    register_module("act", &act);
    register_module("fc2", &fc2);
}

Tensor Mlp::forward(const Tensor& x) const {
    Tensor h = fc1(x);  // (B, N, hidden), a new contiguous tensor we own
    // While recording for backward, h = act(h) is a new tensor: the tape refuses in-place
    // writes into a recorded result, and gelu's backward needs h as it was.
    if (autograd::recording(h)) return fc2(act(h));
    // In inference GELU overwrites h: the hidden activations (7 MB for 577 tokens of ViT-B)
    // exist once. The values are exactly those of act(h).
    return fc2(gelu_(h, act.approximate));
}

}  // namespace vitlab::nn
