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
// The blocked exact form never computes 1 + erf(x / sqrt 2) for negative x, where the two
// terms cancel (at x = -5 the result is -1.4e-6 but erf is -0.99999943). Since
// Phi(x) = 1 - Phi(-x), it writes gelu with the small tail g(t) = t Phi(-t) >= 0:
//   gelu(x) = max(x, 0) - g(|x|)
// and g, a smooth bump, is cheap to approximate piece by piece: the lane's piece is picked
// with a table lookup that is one permute instruction (simd.h's lookup8), then a polynomial
// of degree 6. Measured on AVX2 (Zen 3), that is about 20% faster than the same identity
// through simd.h's erfc_nonneg, which needs an exp and a division. Accuracy, measured by
// tests/test_simd_math.cpp: within 1e-6 absolute of the formula in double precision (2.4e-7
// at worst on the floats it samples).
// The blocked tanh form uses 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)):
//   gelu_tanh(x) = x / (1 + exp(-2u)),   u = sqrt(2/pi) (x + 0.044715 x^3)
// Both forms are safe for huge |x|: x = -1e30 gives 0 (up to 1e-8), not NaN; +inf gives inf,
// and -inf gives NaN (inf * 0), as in PyTorch.
#include "tensor/ops/gelu.h"

#include <algorithm>
#include <cmath>

#include "tensor/ops/simd.h"
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

// ---- blocked: a register at a time ----------------------------------------------------------
using namespace simd;

// The tail g(t) = t Phi(-t), t >= 0 (at most 0.17, at t = 0.75; 6e-9 at t = 6). On each of
// 8 intervals [0.75 j, 0.75 (j + 1)), j = 0..7, covering [0, 6), a polynomial of degree 6 in
// u = t - 0.75 j; kTail[k][j] is the coefficient of u^k on interval j. On interval 0 the first
// two are those of the exact series g = t/2 - t^2 / sqrt(2 pi) + ..., so tiny x keep their
// relative accuracy. Fitted to minimise the largest error: below 8e-8 absolute everywhere.
alignas(64) constexpr float kTail[7][8] = {
    {0.0f, 0.169970527f, 0.100210778f, 0.0275050681f, 0.00404969696f, 0.000331564428f,
     1.52893699e-05f, 3.99246659e-07f},
    {0.5f, 0.000773191452f, -0.127466172f, -0.0591903031f, -0.0119460244f, -0.00123376586f,
     -6.8507492e-05f, -2.08949518e-06f},
    {-0.398904055f, -0.216415524f, 0.0161240529f, 0.0486124754f, 0.015519863f, 0.00212554261f,
     0.000145372163f, 5.23367999e-06f},
    {-0.000498699374f, 0.129139736f, 0.0571986623f, -0.0127276331f, -0.0111500761f, -0.00220943801f,
     -0.000190798048f, -8.14272062e-06f},
    {0.0688004047f, 0.00593657279f, -0.0381689928f, -0.00741463713f, 0.00434813416f, 0.00148924289f,
     0.000165211997f, 8.27314761e-06f},
    {-0.0047358484f, -0.0257884245f, 0.0068971687f, 0.00679916656f, -0.000611123105f,
     -0.000624641951f, -8.86626221e-05f, -5.07557706e-06f},
    {-0.00607191632f, 0.00648747291f, 0.000750899082f, -0.00171445031f, -8.62745583e-05f,
     0.000126776125f, 2.23493207e-05f, 1.41509156e-06f},
};

inline __attribute__((always_inline)) Vec gelu_erf_vec(Vec x) {
    const Vec zero = splat(0.0f);
    const Vec t = vmin(splat(6.0f), abs(x));  // beyond 6, g(6) = 6e-9 stands in for ~0
    const Index j = to_index(mul(t, splat(1.0f / 0.75f)), 7);
    const Vec u = fnmadd(index_to_float(j), splat(0.75f), t);
    Vec g = lookup8(kTail[6], j);  // Horner's rule, written out (GCC -O2 keeps a loop rolled)
    g = fmadd(g, u, lookup8(kTail[5], j));
    g = fmadd(g, u, lookup8(kTail[4], j));
    g = fmadd(g, u, lookup8(kTail[3], j));
    g = fmadd(g, u, lookup8(kTail[2], j));
    g = fmadd(g, u, lookup8(kTail[1], j));
    g = fmadd(g, u, lookup8(kTail[0], j));
    // gelu(x) = max(x, 0) - g(|x|). The term min(x, 0) * 0 adds 0, except for x = -inf,
    // where it makes the result NaN (inf * 0), as in PyTorch.
    return fmadd(vmin(x, zero), zero, sub(vmax(x, zero), g));
}

inline __attribute__((always_inline)) Vec gelu_tanh_vec(Vec x) {
    // -2u = x (a + b x^2), a = -2 sqrt(2/pi), b = a * 0.044715
    const float a = -1.59576912160573072f, b = a * 0.044715f;
    const Vec e = exp_approx(mul(x, fmadd(mul(x, x), splat(b), splat(a))));
    return div(x, add(splat(1.0f), e));
}

// f is a template argument so that it is inlined into the loop: as a call per register, the
// loop ran 2.5x slower (each call's latency chain could not overlap the next one's).
template <Vec (*f)(Vec)>
void gelu_range(const float* x, float* out, int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + kLanes <= end; i += kLanes) store(out + i, f(load(x + i)));
    if (i < end) store_part(out + i, f(load_part(x + i, end - i, 0.0f)), end - i);
}

// Below this many elements, starting threads costs more than it saves.
constexpr int64_t kParallelMin = 1 << 14;

}  // namespace

Tensor gelu(const Tensor& x, GeluApproximate approximate, Kernel kernel) {
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

Tensor gelu_blocked(const Tensor& x, GeluApproximate approximate) {
    const Tensor in = x.contiguous();
    Tensor out = empty(x.shape());
    const float* src = in.data();
    float* dst = out.data();
    auto range =
        approximate == GeluApproximate::Tanh ? gelu_range<gelu_tanh_vec> : gelu_range<gelu_erf_vec>;
    // Threads take chunks of whole registers (the last chunk also takes the tail).
    const int64_t n = out.numel(), registers = (n + kLanes - 1) / kLanes;
    auto chunk = [&](int64_t begin, int64_t end) {
        range(src, dst, begin * kLanes, std::min(end * kLanes, n));
    };
    if (n < kParallelMin) {
        chunk(0, registers);
    } else {
        parallel_for(0, registers, chunk);
    }
    return out;
}

}  // namespace vitlab
