// block.h: one Transformer 编码器 (encoder) block, pre-norm, as timm's Block.
//
//   x (B, N, C):
//   x = x + attn(norm1(x))     every token looks at every other token
//   x = x + mlp(norm2(x))      every token is transformed on its own
// The shape never changes, so blocks stack: a ViT-B is 12 of them.
#pragma once

#include <cstdint>

#include "nn/attention.h"
#include "nn/init.h"
#include "nn/layer_norm.h"
#include "nn/mlp.h"
#include "nn/module.h"

namespace vitlab::nn {

class Block : public Module {
  public:
    Block(int64_t dim, int64_t num_heads, int64_t mlp_hidden_dim, float eps = 1e-6f,
          bool qkv_bias = true, Generator& gen = default_generator());

    // x (B, N, dim) -> (B, N, dim); attn_probs as in Attention::forward.
    Tensor forward(const Tensor& x, Tensor* attn_probs = nullptr) const;
    Tensor operator()(const Tensor& x, Tensor* attn_probs = nullptr) const {
        return forward(x, attn_probs);
    }

    LayerNorm norm1;
    Attention attn;
    LayerNorm norm2;
    Mlp mlp;
};

}  // namespace vitlab::nn
