// Exercise 06: patch embedding (图像块嵌入) by reshape + matmul, no convolution.
// Read README.md, write the body below, then run
//   make exercise N=6
#include "exercise.h"

namespace vitlab::exercises {

// images (B, C, H, W), weight (D, C, P, P), bias (D), patch P (H and W divisible by P)
// -> out (B, N, D),  N = (H/P) * (W/P), patches numbered row by row (top-left first):
//   patches = images (B, C, H/P, P, W/P, P) -> permute (B, H/P, W/P, C, P, P) -> (B, N, C*P*P)
//   out     = patches @ weight.reshape(D, C*P*P)^T + bias
// The notebook: (1, 3, 384, 384), weight (768, 3, 16, 16) -> (1, 576, 768).
// Throw ShapeError if H or W is not a multiple of P, or weight is not (D, C, P, P).
Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t patch) {
    // TODO(student): reshape to 6 dims, permute, reshape to (B, N, C*P*P); reshape the weight to
    // (D, C*P*P); one matmul with its transpose; add the bias.
    return Tensor();
}

}  // namespace vitlab::exercises
