// vision_transformer.cpp: the ViT forward pass, step by step as in vision_transformer.h.
#include "vit/vision_transformer.h"

#include "tensor/ops.h"

namespace vitlab {

// validate() runs before any member is built, so a bad config fails with its own message.
static const ViTConfig& validated(const ViTConfig& config) {
    config.validate();
    return config;
}

VisionTransformer::VisionTransformer(const ViTConfig& config_in, uint64_t seed)
    : gen_(seed),
      config(validated(config_in)),
      patch_embed(config.img_size, config.patch_size, config.in_chans, config.embed_dim, gen_),
      norm(config.embed_dim, config.layer_norm_eps),
      head(config.embed_dim, config.num_classes, true, gen_) {
    const int64_t C = config.embed_dim;
    for (int64_t i = 0; i < config.depth; ++i)
        blocks.emplace_back(C, config.num_heads, config.mlp_dim, config.layer_norm_eps,
                            config.qkv_bias, gen_);

    // timm: trunc_normal_(pos_embed, std=.02) and normal_(cls_token, std=1e-6). The class token
    // starts almost at zero; it learns what to gather from the patches.
    pos_embed = empty({1, config.num_tokens(), C});
    nn::trunc_normal_(pos_embed, gen_, 0.0f, 0.02f, -2.0f, 2.0f);
    cls_token = empty({1, 1, C});
    nn::normal_(cls_token, gen_, 0.0f, 1e-6f);

    // Registration order gives timm's state dict order.
    register_parameter("cls_token", &cls_token);
    register_parameter("pos_embed", &pos_embed);
    register_module("patch_embed", &patch_embed);
    register_module("blocks", &blocks);
    register_module("norm", &norm);
    register_module("head", &head);
}

Tensor VisionTransformer::embed(const Tensor& images) const {
    if (images.dim() != 4 || images.size(1) != config.in_chans ||
        images.size(2) != config.img_size || images.size(3) != config.img_size)
        throw ShapeError(fmt::format(
            "VisionTransformer {}: expected images of shape (B, {}, {}, {}), got {}", config.name,
            config.in_chans, config.img_size, config.img_size, images.shape()));
    const int64_t B = images.size(0), C = config.embed_dim;
    Tensor x = patch_embed(images);                // (B, N, C)
    x = cat({cls_token.expand({B, 1, C}), x}, 1);  // (B, N+1, C)
    x += pos_embed;                                // (B, N+1, C), pos_embed broadcasts over B
    return x;
}

Tensor VisionTransformer::forward_features(const Tensor& images,
                                           std::vector<Tensor>* attn_probs) const {
    Tensor x = embed(images);
    if (attn_probs) attn_probs->clear();
    for (const auto& block : blocks) {
        Tensor probs;
        x = block(x, attn_probs ? &probs : nullptr);
        if (attn_probs) attn_probs->push_back(probs);
    }
    return norm(x);
}

Tensor VisionTransformer::forward_head(const Tensor& features) const {
    if (features.dim() != 3 || features.size(2) != config.embed_dim)
        throw ShapeError(fmt::format(
            "VisionTransformer::forward_head: expected features of shape (B, {}, {}), got {}",
            config.num_tokens(), config.embed_dim, features.shape()));
    return head(features.select(1, 0));  // x[:, 0], the class token: (B, C) -> (B, classes)
}

Tensor VisionTransformer::forward(const Tensor& images, std::vector<Tensor>* attn_probs) const {
    return forward_head(forward_features(images, attn_probs));
}

}  // namespace vitlab
