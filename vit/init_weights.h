// init_weights.h: the two ways a Vision Transformer starts from scratch.
//
// Training from random weights depends on where the weights start. Two libraries, two answers:
//   timm         every Linear trunc_normal(std 0.02), bias 0; the patch conv PyTorch's default
//                uniform(+-1/sqrt(fan_in)); pos_embed trunc_normal(std 0.02); cls_token
//                normal(std 1e-6). What VisionTransformer's constructor does.
//   torchvision  torchvision.models.VisionTransformer's:
//                  patch conv   trunc_normal(std sqrt(1/fan_in)), bias 0
//                  cls_token 0, pos_embed normal(std 0.02)
//                  qkv          xavier_uniform over the whole (3C, C) weight, bias 0
//                  proj         nn.Linear's default kaiming_uniform(a=sqrt(5)):
//                  uniform(+-1/sqrt(C)), bias 0 fc1, fc2     xavier_uniform, bias normal(std 1e-6)
//                  head         weight 0, bias 0 (every class starts at the same logit)
//                LayerNorms are ones and zeros in both.
// The torchvision weights are about 5x larger than timm's 0.02 in a 64-wide model, and a small
// ViT trained from them fits its data faster (README, Training).
//   VisionTransformer model(vit_fmnist(), seed);
//   init_weights_(model, WeightInit::Torchvision, seed);
#pragma once

#include <cstdint>
#include <string>

#include "vit/vision_transformer.h"

namespace vitlab {

enum class WeightInit { Timm, Torchvision };

// "timm" or "torchvision"; anything else throws std::invalid_argument naming both.
WeightInit parse_weight_init(const std::string& name);
const char* to_string(WeightInit init);

// Overwrites every parameter of model as the scheme does, from Generator(seed).
void init_weights_(VisionTransformer& model, WeightInit init, uint64_t seed);

}  // namespace vitlab
