// vision_transformer.h: the whole Vision Transformer (Dosovitskiy et al. 2020), as timm's.
//
//   images (B, 3, H, W)
//   x = patch_embed(images)                      (B, N, C)      图像块嵌入 Patch Embedding
//   x = cat({cls_token.expand(B, 1, C), x}, 1)    (B, N+1, C)    分类标记 class token first
//   x = x + pos_embed                             (B, N+1, C)    位置嵌入 position embedding
//   for block in blocks: x = block(x)             (B, N+1, C)    Transformer 编码器
//   x = norm(x)                                   (B, N+1, C)    -> forward_features
//   logits = head(x[:, 0])                        (B, classes)   分类头 the class token alone
// For vit_base_patch16_384: (1, 3, 384, 384) -> (1, 576, 768) -> (1, 577, 768) -> (1, 1000).
// Parameter names are timm's, so its state dict loads with load_state_dict().
// Every sub-module is public, so tutorial 08 can redo the forward pass by hand.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/nn.h"
#include "vit/config.h"

namespace vitlab {

class VisionTransformer : public nn::Module {
    // Declared first because members are initialised in declaration order and patch_embed and
    // head draw their weights from it (the constructor body then builds blocks, pos_embed,
    // cls_token from it too).
    Generator gen_;

  public:
    // Validates config and initialises every parameter from Generator(seed) as timm does:
    // Linear weights trunc_normal(std 0.02), biases zero, LayerNorm ones/zeros, the patch
    // conv PyTorch's default uniform, pos_embed trunc_normal(std 0.02), cls_token normal(std 1e-6).
    explicit VisionTransformer(const ViTConfig& config, uint64_t seed = 0);

    // images (B, in_chans, img_size, img_size) -> logits (B, num_classes). Any other shape
    // throws ShapeError naming the expected one. attn_probs, when not null, receives one
    // (B, num_heads, N+1, N+1) tensor per block.
    Tensor forward(const Tensor& images, std::vector<Tensor>* attn_probs = nullptr) const;
    Tensor operator()(const Tensor& images, std::vector<Tensor>* attn_probs = nullptr) const {
        return forward(images, attn_probs);
    }

    // The steps of forward, each usable alone:
    // patch_embed, prepend the class token, add pos_embed: (B, 3, H, W) -> (B, N+1, C)
    Tensor embed(const Tensor& images) const;
    // embed, every block, final norm: (B, 3, H, W) -> (B, N+1, C)
    Tensor forward_features(const Tensor& images, std::vector<Tensor>* attn_probs = nullptr) const;
    // the class token of the features through the head: (B, N+1, C) -> (B, num_classes)
    Tensor forward_head(const Tensor& features) const;

    ViTConfig config;
    nn::PatchEmbed patch_embed;
    Tensor cls_token;  // (1, 1, C)
    Tensor pos_embed;  // (1, N+1, C)
    nn::ModuleList<nn::Block> blocks;
    nn::LayerNorm norm;
    nn::Linear head;  // weight (num_classes, C)
};

}  // namespace vitlab
