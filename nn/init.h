// init.h: seeded parameter initialisation, as torch.nn.init.
//
// Every layer constructor takes a Generator (random.h) and fills its parameters from it, so a
// seed gives the same model on every machine. Layers built without one use default_generator(),
// which manual_seed() resets, the way torch.manual_seed() drives nn.Linear(...):
//   nn::manual_seed(0);
//   nn::Linear fc(768, 3072);          // same weights on every run
// What timm does for a ViT (and this library copies):
//   Linear weight  trunc_normal_(std = 0.02, a = -2, b = 2), bias zeros
//   LayerNorm      weight ones, bias zeros
//   Conv2d         PyTorch's default: weight and bias uniform in +-1/sqrt(fan_in), fan_in =
//   C_in*kH*kW
#pragma once

#include <cstdint>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace vitlab::nn {

// The process-wide generator layers use when none is given; manual_seed(seed) resets it.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Each fills t (any shape, any strides) in place, element by element in row-major order.
// N(mean, std^2) restricted to [a, b]; a and b are absolute values, as in timm / torch.
void trunc_normal_(Tensor& t, Generator& gen, float mean = 0.0f, float std = 1.0f, float a = -2.0f,
                   float b = 2.0f);
void normal_(Tensor& t, Generator& gen, float mean = 0.0f, float std = 1.0f);
void uniform_(Tensor& t, Generator& gen, float low = 0.0f, float high = 1.0f);
// Glorot & Bengio (2010) for a 2-d weight (fan_out, fan_in), as torch.nn.init.xavier_uniform_:
// uniform in +-gain * sqrt(6 / (fan_in + fan_out)), so activations and gradients keep their scale.
void xavier_uniform_(Tensor& t, Generator& gen, float gain = 1.0f);
void zeros_(Tensor& t);
void ones_(Tensor& t);

// While a SkipInit lives (on this thread) the functions above leave tensors as they are. Layers
// built under it get parameters of the right shapes in memory that was allocated (empty()) but
// never written, so the operating system has not even given it pages yet: the way to build a
// model whose parameters load_state_dict(state, strict, /*assign=*/true) is about to replace,
// as PyTorch's torch.nn.utils.skip_init does. Initialising ViT-B/16's 86 M parameters takes
// seconds and 350 MB that a checkpoint would then overwrite; skipping it takes neither.
//   { nn::SkipInit skip; model = std::make_unique<VisionTransformer>(config); }
class SkipInit {
  public:
    SkipInit();
    ~SkipInit();
    SkipInit(const SkipInit&) = delete;
    SkipInit& operator=(const SkipInit&) = delete;
};
bool init_skipped();  // true while a SkipInit lives on this thread

}  // namespace vitlab::nn
