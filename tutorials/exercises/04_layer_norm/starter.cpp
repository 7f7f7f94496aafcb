// Exercise 04: layer norm. Read README.md, write the body below, then run
//   make exercise N=4
#include "exercise.h"

namespace vitlab::exercises {

// x (..., C), weight (C), bias (C) -> out (..., C). Each row of C numbers (one token) is
// normalised on its own:
//   mean  = sum_i x_i / C
//   var   = sum_i (x_i - mean)^2 / C          (divide by C, not C - 1: the biased variance)
//   out_i = (x_i - mean) / sqrt(var + eps) * weight_i + bias_i
// In a ViT-Base, x is (1, 577, 768): 577 rows of C = 768.
// Throw ShapeError (message starting "layer_norm:") if weight or bias is not (C).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    // TODO(student): take a copy to write into, Tensor out = x.clone() (not x.contiguous():
    // for an input that is already contiguous it returns x itself, and writing into it would
    // change the caller's tokens). Then for each row of C numbers compute the mean, then the
    // variance around it, then write the normalised, scaled and shifted values.
    return Tensor();
}

}  // namespace vitlab::exercises
