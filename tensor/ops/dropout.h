// dropout.h: torch.nn.functional.dropout, with the project's seeded generator, and its gradient.
//
//   training: each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
//   expected value of the output is x:   out = x * mask,  mask_i = (u_i >= p) / (1 - p)
//   with u_i = gen.uniform(), drawn in row-major order (same seed, same mask, every machine).
//   Backward:  dx = dy * mask           (the mask is what the forward keeps)
// Not training, or p = 0: out is x (a copy) and the mask is empty. p = 1 drops everything.
// PyTorch draws its mask from another generator, so the masks differ; the formula does not.
#pragma once

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace vitlab {

struct DropoutResult {
    Tensor out;   // x's shape
    Tensor mask;  // x's shape, 0 or 1 / (1 - p); empty when nothing was dropped
};

DropoutResult dropout(const Tensor& x, float p, Generator& gen, bool training = true);
Tensor dropout_backward(const Tensor& dy, const Tensor& mask);

}  // namespace vitlab
