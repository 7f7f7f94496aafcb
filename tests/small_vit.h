// small_vit.h: the configuration of the small ViTs the tests build, in one place.
//
// Image 32, patch 8 (a 4 x 4 grid: 17 tokens with the class token), 10 classes, 4 heads and an
// MLP of 2 x width, as the PyTorch fixtures of tools/fixtures/ are made: the ViT fixture is
// small_vit_config(64, 2), the checkpoint fixture small_vit_config(32, 2).
#pragma once

#include <cstdint>
#include <string>

#include "vit/config.h"

namespace vitlab::testing {

inline ViTConfig small_vit_config(int64_t width, int64_t depth, const std::string& name) {
    ViTConfig c;
    c.name = name;
    c.img_size = 32;
    c.patch_size = 8;
    c.num_classes = 10;
    c.embed_dim = width;
    c.depth = depth;
    c.num_heads = 4;
    c.mlp_dim = 2 * width;
    return c;
}

}  // namespace vitlab::testing
