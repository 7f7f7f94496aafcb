// gelu.cpp: GELU, exact (with erf) or with the tanh approximation (see gelu.h).
//
// gelu(x) = x * Phi(x), Phi the standard normal CDF: large positive x pass unchanged, large
// negative x go to 0, and in between it bends smoothly (unlike ReLU's corner). The tanh form
// was a faster stand-in for erf; ViT checkpoints are trained with the exact one, the default.
//
// Two versions, as for softmax and matmul:
//   naive    one float at a time with std::erf / std::tanh: the formula, and the reference
//   blocked  a register at a time (simd.h), with polynomials in place of erf and exp, and
//            split across threads
//
// The blocked version (tensor/cpu/gelu_kernels.cpp, once per instruction set) keeps the
// formula accurate without erf: it writes gelu(x) = x/2 + (|x|/2 - g(|x|)) with the small
// tail g(t) = t Phi(-t), approximated piece by piece (within 1e-6 absolute of the formula in
// double precision, tests/test_simd_math.cpp); the tanh form goes through exp.
// Both forms are safe for huge |x|: x = -1e30 gives 0 (up to 1e-8), not NaN; +inf gives inf,
// and -inf gives NaN (inf * 0), as in PyTorch.
#include "tensor/ops/gelu.h"

#include <algorithm>
#include <cmath>

#include "tensor/autograd.h"
#include "tensor/cpu/kernels.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

// ---- naive: the formulas ------------------------------------------------------------------

float gelu_erf(float x) {
    return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
}

float gelu_tanh(float x) {
    const float k = 0.79788456080286536f;  // sqrt(2 / pi)
    return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

}  // namespace

Tensor gelu(const Tensor& x, GeluApproximate approximate, Kernel kernel) {
    if (autograd::recording(x))
        return autograd::recorded(
            [&] { return gelu(x, approximate, kernel); },
            [&](Tensor& out) { autograd::record_gelu(out, x, static_cast<int>(approximate)); });
    if (resolve(kernel) == Kernel::Naive) return gelu_naive(x, approximate);
    return gelu_blocked(x, approximate);
}

Tensor gelu_naive(const Tensor& x, GeluApproximate approximate) {
    const Tensor in = x.contiguous();
    Tensor out = empty(x.shape());
    const float* src = in.data();
    float* dst = out.data();
    float (*f)(float) = approximate == GeluApproximate::Tanh ? gelu_tanh : gelu_erf;
    for (int64_t i = 0; i < out.numel(); ++i) dst[i] = f(src[i]);
    return out;
}

namespace {

// dst[i] = gelu(src[i]) for i < n, with SIMD and threads; dst may be src.
void gelu_contiguous(const float* src, float* dst, int64_t n, GeluApproximate approximate) {
    const cpu::GeluKernels& gk = cpu::kernels().gelu;
    auto f = approximate == GeluApproximate::Tanh ? gk.tanh : gk.erf;
    // Threads take chunks of whole blocks of kBlock floats (whole registers on every
    // instruction set); the last chunk also takes the tail.
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    auto chunk = [&](int64_t begin, int64_t end) {
        const int64_t first = begin * kBlock;
        f(src + first, dst + first, std::min(end * kBlock, n) - first);
    };
    parallel_for(0, blocks, kGrainSize / kBlock, chunk);
}

}  // namespace

Tensor gelu_blocked(const Tensor& x, GeluApproximate approximate) {
    const Tensor in = x.contiguous();
    Tensor out = empty(x.shape());
    gelu_contiguous(in.data(), out.data(), out.numel(), approximate);
    return out;
}

Tensor& gelu_(Tensor& x, GeluApproximate approximate, Kernel kernel) {
    check_writable(x, "gelu_");
    autograd::check_inplace(x, "gelu_");
    // A view that is not contiguous: compute beside it, copy back (copy_ counts the write).
    if (!x.is_contiguous()) return x.copy_(gelu(x, approximate, kernel));
    autograd::bump_version(x);
    if (resolve(kernel) == Kernel::Naive) {
        float (*f)(float) = approximate == GeluApproximate::Tanh ? gelu_tanh : gelu_erf;
        float* p = x.data();
        for (int64_t i = 0; i < x.numel(); ++i) p[i] = f(p[i]);
        return x;
    }
    gelu_contiguous(x.data(), x.data(), x.numel(), approximate);
    return x;
}

}  // namespace vitlab
