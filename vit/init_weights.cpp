// init_weights.cpp: timm's and torchvision's initialisation of a Vision Transformer.
#include "vit/init_weights.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace vitlab {

WeightInit parse_weight_init(const std::string& name) {
    if (name == "timm") return WeightInit::Timm;
    if (name == "torchvision") return WeightInit::Torchvision;
    throw std::invalid_argument(
        fmt::format("unknown weight initialisation '{}': expected timm or torchvision", name));
}

const char* to_string(WeightInit init) {
    return init == WeightInit::Timm ? "timm" : "torchvision";
}

static void torchvision_init_(VisionTransformer& m, Generator& gen) {
    nn::Conv2d& conv = m.patch_embed.proj;
    const int64_t fan_in = conv.weight.size(1) * conv.weight.size(2) * conv.weight.size(3);
    const float conv_std = static_cast<float>(std::sqrt(1.0 / static_cast<double>(fan_in)));
    nn::trunc_normal_(conv.weight, gen, 0.0f, conv_std, -2.0f, 2.0f);
    if (conv.bias.numel() != 0) nn::zeros_(conv.bias);
    nn::zeros_(m.cls_token);
    nn::normal_(m.pos_embed, gen, 0.0f, 0.02f);
    for (nn::Block& block : m.blocks) {
        nn::ones_(block.norm1.weight);
        nn::zeros_(block.norm1.bias);
        nn::ones_(block.norm2.weight);
        nn::zeros_(block.norm2.bias);
        // nn.MultiheadAttention._reset_parameters: in_proj xavier, biases 0, out_proj keeps
        // nn.Linear's kaiming_uniform(a=sqrt(5)), whose bound is 1/sqrt(fan_in).
        nn::xavier_uniform_(block.attn.qkv.weight, gen);
        if (block.attn.qkv.bias.numel() != 0) nn::zeros_(block.attn.qkv.bias);
        const float proj_bound = static_cast<float>(
            1.0 / std::sqrt(static_cast<double>(block.attn.proj.weight.size(1))));
        nn::uniform_(block.attn.proj.weight, gen, -proj_bound, proj_bound);
        nn::zeros_(block.attn.proj.bias);
        // torchvision's MLPBlock: xavier weights, biases normal(std 1e-6).
        for (nn::Linear* fc : {&block.mlp.fc1, &block.mlp.fc2}) {
            nn::xavier_uniform_(fc->weight, gen);
            nn::normal_(fc->bias, gen, 0.0f, 1e-6f);
        }
    }
    nn::ones_(m.norm.weight);
    nn::zeros_(m.norm.bias);
    nn::zeros_(m.head.weight);
    nn::zeros_(m.head.bias);
}

void init_weights_(VisionTransformer& model, WeightInit init, uint64_t seed) {
    if (init == WeightInit::Timm) {
        // The constructor's draws, in its order, copied over this model's parameters.
        const VisionTransformer fresh(model.config, seed);
        const auto src = fresh.named_parameters();
        auto dst = model.named_parameters();
        for (size_t i = 0; i < dst.size(); ++i) dst[i].second.copy_(src[i].second);
        return;
    }
    Generator gen(seed);
    torchvision_init_(model, gen);
}

}  // namespace vitlab
