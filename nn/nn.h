// nn.h: every layer. Reading order: module.h, init.h, linear.h, conv2d.h, layer_norm.h,
// gelu.h, patch_embed.h, attention.h, mlp.h, block.h; then vit/vision_transformer.h.
#pragma once

#include "nn/attention.h"
#include "nn/block.h"
#include "nn/conv2d.h"
#include "nn/gelu.h"
#include "nn/init.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "nn/module.h"
#include "nn/patch_embed.h"
