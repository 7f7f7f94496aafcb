// config.h: the hyper-parameters of a Vision Transformer, and the standard ones by name.
//
// The notebook's model, vit_base_patch16_384: a 384x384 RGB image cut into 16x16 patches
// (24 x 24 = 576 patches), 768-dim tokens, 12 encoder blocks with 12 heads each, an MLP of
// 3072, and 1000 ImageNet classes. Names follow timm ("vit_base_patch16_384").
//   auto config = ViTConfig::preset("vit_base_patch16_384");
//   config.num_parameters()   // 86,859,496, computed from the numbers, nothing allocated
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vitlab {

struct ViTConfig {
    std::string name = "custom";
    int64_t img_size = 224;      // images are (B, in_chans, img_size, img_size)
    int64_t patch_size = 16;     // patches are patch_size x patch_size pixels
    int64_t in_chans = 3;        // RGB
    int64_t num_classes = 1000;  // ImageNet-1k
    int64_t embed_dim = 768;     // C, the size of every token
    int64_t depth = 12;          // number of encoder blocks
    int64_t num_heads = 12;      // attention heads; head_dim = embed_dim / num_heads
    int64_t mlp_dim = 3072;      // hidden size of each block's MLP (mlp_ratio 4 * embed_dim)
    bool qkv_bias = true;
    float layer_norm_eps = 1e-6f;  // timm's ViT (PyTorch's LayerNorm default is 1e-5)

    int64_t grid_size() const { return img_size / patch_size; }        // 24 patches per side
    int64_t num_patches() const { return grid_size() * grid_size(); }  // N = 576
    int64_t num_tokens() const { return num_patches() + 1; }           // N + 1 = 577 (class token)
    int64_t head_dim() const { return embed_dim / num_heads; }         // 64
    double mlp_ratio() const { return double(mlp_dim) / double(embed_dim); }  // 4

    // Number of scalars the model holds, from the formula (allocates nothing):
    //   patch_embed  C*in_chans*P*P + C         cls_token C      pos_embed (N+1)*C
    //   per block    norm1 2C + qkv 3C*C+3C + proj C*C+C + norm2 2C + fc1 M*C+M + fc2 C*M+C
    //   norm 2C      head num_classes*C + num_classes
    int64_t num_parameters() const;

    // Throws std::invalid_argument when the numbers cannot make a ViT (a size that is not
    // positive, img_size not divisible by patch_size, embed_dim not divisible by num_heads).
    void validate() const;

    // A standard configuration by its timm name; an unknown name throws std::invalid_argument
    // listing the known ones.
    static ViTConfig preset(const std::string& name);
    static std::vector<std::string> preset_names();
};

// The presets, also reachable by name through ViTConfig::preset().
ViTConfig vit_tiny_patch16_224();   // 192 dim, 12 blocks,  3 heads,  5,717,416 parameters
ViTConfig vit_small_patch16_224();  // 384 dim, 12 blocks,  6 heads, 22,050,664
ViTConfig vit_base_patch16_224();   // 768 dim, 12 blocks, 12 heads, 86,567,656
ViTConfig vit_base_patch16_384();   // the notebook's model,         86,859,496
ViTConfig vit_base_patch32_384();   // 32x32 patches: 144 of them,   88,297,192
ViTConfig vit_large_patch16_384();  // 1024 dim, 24 blocks, 16 heads, 304,715,752
// Fashion-MNIST (dataset/fashion_mnist.h): 28x28x1 images, patch 4, 64 dim, 6 blocks, 4 heads,
// MLP 128, 10 classes: 205,962 parameters, as torchvision's
// VisionTransformer(28, 4, 6, 4, 64, 128, num_classes=10) with a 1-channel conv_proj.
ViTConfig vit_fmnist();

// One line for printing: "vit_base_patch16_384: img 384, patch 16, dim 768, depth 12, heads 12,
// mlp 3072, classes 1000".
std::string to_string(const ViTConfig& config);

}  // namespace vitlab
