// cross_entropy.h: torch.nn.functional.cross_entropy with label smoothing, and its gradient.
//
//   logits (B, C), target (B) class indices stored as floats (exact integers), eps in [0, 1]:
//   logp = log_softmax(logits, dim = 1)                              (B, C)
//   q[b][c] = (1 - eps) * [c == target[b]] + eps / C                 the smoothed target
//   loss = mean over b of  -sum_c q[b][c] * logp[b][c]               a 0-d tensor
// (PyTorch writes the same as (1 - eps) * nll + eps * mean_c(-logp); reduction = 'mean'.)
// Backward, with dloss the gradient of the 0-d loss (1 for loss.backward()):
//   dlogits[b][c] = dloss / B * (softmax(logits)[b][c] - q[b][c])
// The gradient pulls the probabilities towards the smoothed target; it needs only logits
// (softmax is recomputed). Logits are read in double, so huge values stay finite.
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

Tensor cross_entropy(const Tensor& logits, const Tensor& target, float label_smoothing = 0.0f);
Tensor cross_entropy_backward(const Tensor& dloss, const Tensor& logits, const Tensor& target,
                              float label_smoothing = 0.0f);

}  // namespace vitlab
