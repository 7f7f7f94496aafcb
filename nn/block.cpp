// block.cpp: pre-norm residual block: x + attn(norm1(x)), then + mlp(norm2(x)).
#include "nn/block.h"

#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace vitlab::nn {

Block::Block(int64_t dim, int64_t num_heads, int64_t mlp_hidden_dim, float eps, bool qkv_bias,
             Generator& gen)
    : norm1(dim, eps),
      attn(dim, num_heads, qkv_bias, gen),
      norm2(dim, eps),
      mlp(dim, mlp_hidden_dim, gen) {
    register_module("norm1", &norm1);
    register_module("attn", &attn);
    register_module("norm2", &norm2);
    register_module("mlp", &mlp);
}

Tensor Block::forward(const Tensor& x, Tensor* attn_probs) const {
    // y = x + attn(norm1(x)), summed into attn's output (a new tensor we own) rather than into
    // a third one; the caller's x is left alone. Then the MLP's output is added in place too,
    // except while recording for backward: norm2 saved y, and the tape refuses (version
    // counter) a change to a tensor it saved, so training writes y + mlp(...) as a new tensor.
    Tensor y = attn(norm1(x), attn_probs);
    y += x;
    if (autograd::recording(y)) return y + mlp(norm2(y));
    y += mlp(norm2(y));
    return y;
}

}  // namespace vitlab::nn
