// Exercise 06, the project's solution: a stride-P, P x P convolution is one matrix product.
//
// With kernel = stride = P and no padding, the kernel windows do not overlap and tile the
// image exactly: each output position sees exactly one patch. So the convolution is "flatten
// every patch into a row of C*P*P numbers" followed by "multiply by the weight, flattened the
// same way". The flattening order (c, i, j) must match the weight's (C, P, P) layout.
//
//   images (B, C, H, W)
//   -> reshape  (B, C, H/P, P, W/P, P)        split H into (patch row, row in patch), same for W
//   -> permute  (B, H/P, W/P, C, P, P)        patch position first, the patch's content last
//   -> reshape  (B, N, C*P*P)                 one row per patch (a copy: permute is not contiguous)
//   @ weight.reshape(D, C*P*P).transpose      (C*P*P, D)
//   + bias                                    -> (B, N, D)
#include <fmt/format.h>

#include "exercise.h"

namespace vitlab::exercises {

Tensor patch_embed(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t patch) {
    const int64_t P = patch;
    if (images.dim() != 4 || P < 1 || images.size(2) % P != 0 || images.size(3) % P != 0)
        throw ShapeError(
            fmt::format("patch_embed: images {} must be (B, C, H, W), H and W multiples of {}",
                        to_string(images.shape()), P));
    const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    if (weight.shape() != Shape{weight.size(0), C, P, P} || bias.shape() != Shape{weight.size(0)})
        throw ShapeError(
            fmt::format("patch_embed: weight {} and bias {} must be (D, {}, {}, {}) and (D)",
                        to_string(weight.shape()), to_string(bias.shape()), C, P, P));
    const int64_t D = weight.size(0), rows = H / P, cols = W / P;

    const Tensor patches = images.reshape({B, C, rows, P, cols, P})
                               .permute({0, 2, 4, 1, 3, 5})
                               .reshape({B, rows * cols, C * P * P});  // (B, N, C*P*P)
    const Tensor w = weight.reshape({D, C * P * P});                   // (D, C*P*P)
    return matmul(patches, w.transpose(0, 1)) + bias;                  // (B, N, D)
}

}  // namespace vitlab::exercises
