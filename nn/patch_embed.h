// patch_embed.h: PatchEmbed, 图像块嵌入 (Patch Embedding): an image becomes a sequence of tokens.
//
//   images (B, in_chans, img_size, img_size)
//     -> proj, a Conv2d with kernel = stride = patch_size:   (B, embed_dim, G, G),  G = img/patch
//     -> flatten(2):                                          (B, embed_dim, G*G)
//     -> transpose(1, 2):                                     (B, N, embed_dim),  N = G*G
// For the notebook's ViT-B/16 at 384: (1, 3, 384, 384) -> (1, 768, 24, 24) -> (1, 576, 768).
// A conv whose stride equals its kernel sees each patch once: it is "cut the image into
// patches, flatten each, multiply by one (embed_dim, 3*16*16) matrix".
#pragma once

#include <cstdint>

#include "nn/conv2d.h"
#include "nn/init.h"
#include "nn/module.h"

namespace vitlab::nn {

class PatchEmbed : public Module {
  public:
    PatchEmbed(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim,
               Generator& gen = default_generator());

    // (B, in_chans, img_size, img_size) -> (B, num_patches, embed_dim). Any other input shape
    // throws ShapeError naming the expected one: "PatchEmbed: expected images of shape
    // (B, 3, 384, 384), got (1, 3, 224, 224)".
    Tensor forward(const Tensor& images) const;
    Tensor operator()(const Tensor& images) const { return forward(images); }

    int64_t img_size, patch_size, in_chans, embed_dim;
    int64_t grid_size;    // patches per side: img_size / patch_size (24 for 384 / 16)
    int64_t num_patches;  // grid_size * grid_size (576 for 384 / 16)
    Conv2d proj;          // weight (embed_dim, in_chans, patch_size, patch_size)
};

}  // namespace vitlab::nn
