// Exercise 08: the backward of layer norm. Read README.md, write the body below, then run
//   make exercise N=8
#include "exercise.h"

namespace vitlab::exercises {

// dy (..., C), x (..., C), weight (C) -> dx (..., C), dweight (C), dbias (C). For each row of
// C numbers (one token), with the forward's mean, var and rstd = 1 / sqrt(var + eps):
//   xhat_i = (x_i - mean) * rstd                       (the forward: y_i = xhat_i w_i + b_i)
//   g_i    = dy_i * weight_i                            the gradient reaching xhat
//   dx_i   = rstd * (g_i - mean_j(g_j) - xhat_i * mean_j(g_j * xhat_j))
// and, summed over all rows:
//   dbias_i   = sum of dy_i          dweight_i = sum of dy_i * xhat_i
// The two means come from mean and var depending on every x_j of the row: do not treat them
// as constants. In a ViT-Base, x and dy are (1, 197, 768) at 224 px.
// Throw ShapeError (message starting "layer_norm_backward:") if dy is not x's shape or weight
// is not (C).
LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                   float eps) {
    // TODO(student): take packed copies of x and dy (clone(), not contiguous()), and zeros({C})
    // for dweight and dbias. For each row: recompute mean, var and rstd as in exercise 04, then
    // xhat and g, the two means, dx; and add this row's share to dweight and dbias.
    return LayerNormGrads{};
}

}  // namespace vitlab::exercises
