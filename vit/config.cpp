// config.cpp: the preset table, the parameter-count formula and the sanity checks.
#include "vit/config.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vitlab {

static ViTConfig make(const char* name, int64_t img, int64_t patch, int64_t dim, int64_t depth,
                      int64_t heads) {
    ViTConfig c;
    c.name = name;
    c.img_size = img;
    c.patch_size = patch;
    c.embed_dim = dim;
    c.depth = depth;
    c.num_heads = heads;
    c.mlp_dim = 4 * dim;
    return c;
}

ViTConfig vit_tiny_patch16_224() {
    return make("vit_tiny_patch16_224", 224, 16, 192, 12, 3);
}
ViTConfig vit_small_patch16_224() {
    return make("vit_small_patch16_224", 224, 16, 384, 12, 6);
}
ViTConfig vit_base_patch16_224() {
    return make("vit_base_patch16_224", 224, 16, 768, 12, 12);
}
ViTConfig vit_base_patch16_384() {
    return make("vit_base_patch16_384", 384, 16, 768, 12, 12);
}
ViTConfig vit_base_patch32_384() {
    return make("vit_base_patch32_384", 384, 32, 768, 12, 12);
}
ViTConfig vit_large_patch16_384() {
    return make("vit_large_patch16_384", 384, 16, 1024, 24, 16);
}
// Small enough to train from scratch on a CPU in minutes: 28x28 grey images in 4x4 patches
// (7 x 7 = 49 tokens + the class token), the MLP only 2 * dim.
ViTConfig vit_fmnist() {
    ViTConfig c = make("vit_fmnist", 28, 4, 64, 6, 4);
    c.in_chans = 1;
    c.mlp_dim = 128;
    c.num_classes = 10;
    return c;
}

static const std::vector<ViTConfig (*)()>& presets() {
    static const std::vector<ViTConfig (*)()> all = {vit_tiny_patch16_224,
                                                     vit_small_patch16_224,
                                                     vit_base_patch16_224,
                                                     vit_base_patch16_384,
                                                     vit_base_patch32_384,
                                                     vit_large_patch16_384,
                                                     vit_fmnist};
    return all;
}

std::vector<std::string> ViTConfig::preset_names() {
    std::vector<std::string> names;
    for (auto make_preset : presets()) names.push_back(make_preset().name);
    return names;
}

ViTConfig ViTConfig::preset(const std::string& name) {
    for (auto make_preset : presets()) {
        ViTConfig c = make_preset();
        if (c.name == name) return c;
    }
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("ViTConfig::preset: unknown model '" + name + "'; known: " + known);
}

int64_t ViTConfig::num_parameters() const {
    const int64_t C = embed_dim, M = mlp_dim, P = patch_size;
    const int64_t qkv_b = qkv_bias ? 3 * C : 0;
    const int64_t patch_embed = C * in_chans * P * P + C;
    const int64_t tokens = C + num_tokens() * C;                 // cls_token + pos_embed
    const int64_t block = 2 * C                                  // norm1
                          + 3 * C * C + qkv_b                    // attn.qkv
                          + C * C + C                            // attn.proj
                          + 2 * C                                // norm2
                          + M * C + M                            // mlp.fc1
                          + C * M + C;                           // mlp.fc2
    const int64_t head = 2 * C + num_classes * C + num_classes;  // norm + head
    return patch_embed + tokens + depth * block + head;
}

void ViTConfig::validate() const {
    auto fail = [&](const std::string& what) {
        throw std::invalid_argument("ViTConfig " + name + ": " + what);
    };
    if (img_size <= 0 || patch_size <= 0 || in_chans <= 0 || num_classes <= 0 || embed_dim <= 0 ||
        depth < 0 || num_heads <= 0 || mlp_dim <= 0)
        fail("every size must be positive (depth may be 0): " + to_string(*this));
    if (img_size % patch_size != 0)
        fail(fmt::format("img_size {} is not a multiple of patch_size {}", img_size, patch_size));
    if (embed_dim % num_heads != 0)
        fail(fmt::format("embed_dim {} is not a multiple of num_heads {}", embed_dim, num_heads));
    if (!(layer_norm_eps > 0.0f)) fail("layer_norm_eps must be positive");
}

std::string to_string(const ViTConfig& c) {
    return fmt::format("{}: img {}, patch {}, dim {}, depth {}, heads {}, mlp {}, classes {}",
                       c.name, c.img_size, c.patch_size, c.embed_dim, c.depth, c.num_heads,
                       c.mlp_dim, c.num_classes);
}

}  // namespace vitlab
