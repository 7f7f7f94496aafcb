// elementwise.h: add, sub, mul, div with PyTorch broadcasting, and their operators.
//
// Broadcasting aligns shapes on the right; each pair of sizes must be equal or one of them 1:
//   (1, 577, 768) + (768)  ->  (1, 577, 768)        (a bias)
//   (B, 1, C)     * (1, N, 1) -> (B, N, C)
// A size-1 dim is read with stride 0, so nothing is copied to broadcast.
#pragma once

#include "tensor/tensor.h"

namespace vitlab {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, float s);
Tensor operator-(const Tensor& a, float s);
Tensor operator*(const Tensor& a, float s);
Tensor operator/(const Tensor& a, float s);
Tensor operator+(float s, const Tensor& a);
Tensor operator-(float s, const Tensor& a);
Tensor operator*(float s, const Tensor& a);
Tensor operator/(float s, const Tensor& a);
Tensor operator-(const Tensor& a);

// In place on a (a's shape must be the broadcast shape): a += b, as in x = x + attn(...).
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, float s);

// out = f(a) elementwise, for simple unary functions (exp, sqrt, ...).
Tensor map(const Tensor& a, float (*f)(float));
Tensor exp(const Tensor& a);
Tensor sqrt(const Tensor& a);

}  // namespace vitlab
