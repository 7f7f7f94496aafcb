// gelu.cpp: GELU, exact (with erf) or with the tanh approximation (see gelu.h).
//
// gelu(x) = x * Phi(x), Phi the standard normal CDF: large positive x pass unchanged, large
// negative x go to 0, and in between it bends smoothly (unlike ReLU's corner). The tanh form
// was a faster stand-in for erf; ViT checkpoints are trained with the exact one, the default.
// Both formulas are safe for huge |x|: erf and tanh saturate at +-1, so x = -1e30 gives -0,
// not NaN (x^3 overflowing to -inf inside tanh is harmless).
#include "tensor/ops/gelu.h"

#include <cmath>

#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

float gelu_erf(float x) {
    return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
}

float gelu_tanh(float x) {
    const float k = 0.79788456080286536f;  // sqrt(2 / pi)
    return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

constexpr int64_t kParallelMin = 1 << 14;

}  // namespace

Tensor gelu(const Tensor& x, GeluApproximate approximate) {
    const Tensor in = x.contiguous();
    Tensor out = empty(x.shape());
    const float* src = in.data();
    float* dst = out.data();
    float (*f)(float) = approximate == GeluApproximate::Tanh ? gelu_tanh : gelu_erf;
    auto chunk = [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) dst[i] = f(src[i]);
    };
    if (out.numel() < kParallelMin) {
        chunk(0, out.numel());
    } else {
        parallel_for(0, out.numel(), chunk);
    }
    return out;
}

}  // namespace vitlab
