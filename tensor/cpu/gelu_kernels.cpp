// gelu_kernels.cpp: GELU a register at a time, per instruction set (kernels.h); the formulas
// and the naive version are in tensor/ops/gelu.cpp.
//
// The blocked exact form never computes 1 + erf(x / sqrt 2) for negative x, where the two
// terms cancel (at x = -5 the result is -1.4e-6 but erf is -0.99999943). Since
// Phi(x) = 1 - Phi(-x), it writes gelu with the small tail g(t) = t Phi(-t) >= 0:
//   gelu(x) = max(x, 0) - g(|x|) = x/2 + (|x|/2 - g(|x|))
// and g, a smooth bump, is cheap to approximate piece by piece: 4 pieces of width w = 1.543
// centred on 0, w, 2w, 3w cover [0, 5.4], each a polynomial of degree 7 in u = t - j w.
// The lane's piece j = round(t / w) comes out of one fmadd (simd.h's kRoundToInt trick), and
// its coefficients out of 4-entry tables: one byte shuffle per coefficient (simd.h's lookup4),
// on execution ports the FMAs do not use (about 25 instructions per register in all).
// Accuracy: within 1e-6 absolute of the formula in double precision
// (tests/test_simd_math.cpp); measured 4.2e-7 at worst over every 16th float in [-30, 30]
// (the fit is within 2.6e-7, the rest is float rounding), and 1e-7 relative for tiny |x|.
// The blocked tanh form uses 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)):
//   gelu_tanh(x) = x / (1 + exp(-2u)),   u = sqrt(2/pi) (x + 0.044715 x^3)
// Both forms are safe for huge |x|: x = -1e30 gives 0 (up to 1e-8), not NaN; +inf gives inf,
// and -inf gives NaN (inf * 0), as in PyTorch.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/simd.h"

namespace vitlab::cpu::VITLAB_CPU_NS {

namespace {

using namespace simd;

// The tail g(t) = t Phi(-t), t >= 0 (at most 0.17, at t = 0.75; 1.8e-7 at t = 5.4). Piece j
// (j = 0..3) covers [(j - 1/2) w, (j + 1/2) w] (piece 0 only [0, w/2]) with a polynomial of
// degree 7 in u = t - j w; kTail[k][j] is the coefficient of u^k in piece j. In piece 0 the
// first two are those of the exact series g = t/2 - t^2 / sqrt(2 pi) + ..., so tiny x keep
// their relative accuracy. Fitted to minimise the largest error (numpy, Lawson's iteration):
// below 2.6e-7 absolute with these float coefficients. Beyond t = 5.4, g(5.4) stands in for g.
constexpr float kTailWidth = 1.543f;  // w: t <= 5.4 gives t / w < 3.5, so j <= 3
alignas(16) constexpr float kTail[8][4] = {
    {0.0f, 0.0947641507f, 0.00313031068f, 8.50076776e-06f},
    {0.5f, -0.125775367f, -0.00951306988f, -3.92254624e-05f},
    {-0.39894554f, 0.023090018f, 0.0128301298f, 8.63614041e-05f},
    {6.04797933e-05f, 0.0505407825f, -0.00969365705f, -0.000119266515f},
    {0.0660696775f, -0.0352739692f, 0.00400608359f, 0.000114089518f},
    {0.00145766197f, 0.00379305403f, -0.000333131815f, -8.26208125e-05f},
    {-0.0127043361f, 0.00415709009f, -0.000629335176f, 4.8534017e-05f},
    {0.00271347282f, -0.00129626237f, 0.000302700879f, -1.70228686e-05f},
};

inline __attribute__((always_inline)) Vec gelu_erf_vec(Vec x) {
    const Vec ax = abs(x);
    const Vec t = vmin(splat(5.4f), ax);  // NaN stays NaN (see vmin)
    // s = j + kRoundToInt: the float add rounds t / w to the integer j, left in s's low bits.
    const Vec s = fmadd(t, splat(1.0f / kTailWidth), splat(kRoundToInt));
    const Vec u = fnmadd(sub(s, splat(kRoundToInt)), splat(kTailWidth), t);  // t - j w
    const Index j = index4(s);
    Vec g = lookup4(kTail[7], j);  // Horner's rule, written out (GCC -O2 keeps a loop rolled)
    g = fmadd(g, u, lookup4(kTail[6], j));
    g = fmadd(g, u, lookup4(kTail[5], j));
    g = fmadd(g, u, lookup4(kTail[4], j));
    g = fmadd(g, u, lookup4(kTail[3], j));
    g = fmadd(g, u, lookup4(kTail[2], j));
    g = fmadd(g, u, lookup4(kTail[1], j));
    g = fmadd(g, u, lookup4(kTail[0], j));
    // gelu(x) = max(x, 0) - g = x/2 + (|x|/2 - g), which never overflows and rounds once in
    // the small difference |x|/2 - g. For x = -inf the sum is -inf + inf = NaN, as in PyTorch
    // (inf * 0); +inf gives inf.
    return fmadd(x, splat(0.5f), fmsub(ax, splat(0.5f), g));
}

inline __attribute__((always_inline)) Vec gelu_tanh_vec(Vec x) {
    // -2u = x (a + b x^2), a = -2 sqrt(2/pi), b = a * 0.044715
    const float a = -1.59576912160573072f, b = a * 0.044715f;
    const Vec e = exp_approx(mul(x, fmadd(mul(x, x), splat(b), splat(a))));
    return div(x, add(splat(1.0f), e));
}

// f is a template argument so that it is inlined into the loop: a call per register would
// keep each call's latency chain from overlapping the next one's (docs/performance.md).
template <Vec (*f)(Vec)>
void gelu_range(const float* x, float* out, int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + kLanes <= end; i += kLanes) store(out + i, f(load(x + i)));
    if (i < end) store_part(out + i, f(load_part(x + i, end - i, 0.0f)), end - i);
}

void gelu_erf(const float* x, float* out, int64_t n) {
    gelu_range<gelu_erf_vec>(x, out, 0, n);
}

void gelu_tanh(const float* x, float* out, int64_t n) {
    gelu_range<gelu_tanh_vec>(x, out, 0, n);
}

// ---- backward: dx = dy * gelu'(x) ------------------------------------------------------------
// |x| beyond 20 gives gelu' = 0 or 1 in float; clamping keeps x^2 and x * exp(-x^2 / 2) finite
// (huge |x| would give inf * 0). vmax(low, x), not vmax(x, low): a NaN in x stays NaN.
inline __attribute__((always_inline)) Vec clamp20(Vec x) {
    return vmin(splat(20.0f), vmax(splat(-20.0f), x));
}

// gelu'(x) = Phi(x) + x phi(x), phi(x) = E / sqrt(2 pi), E = exp(-x^2 / 2). The tail
// h = Phi(-|x|) = (1 - erf(z)) / 2, z = |x| / sqrt 2, by Abramowitz & Stegun 7.1.26:
//   1 - erf(z) = (a1 s + a2 s^2 + ... + a5 s^5) exp(-z^2),  s = 1 / (1 + p z)
// (error below 1.5e-7), and exp(-z^2) is the same E. Phi(x) = h for x < 0, 1 - h for x > 0,
// so the small tail is never computed as a difference of near-equal numbers. The step
// min(1, max(0, x * 1e38)) picks between them; where it is fractional (|x| < 1e-38) the two
// agree to 1e-38.
inline __attribute__((always_inline)) Vec gelu_erf_grad_vec(Vec xin) {
    const Vec x = clamp20(xin);
    const Vec x2 = mul(x, x);
    const Vec E = exp_approx(mul(x2, splat(-0.5f)));
    const Vec s =
        div(splat(1.0f), fmadd(abs(x), splat(0.3275911f * 0.70710678118654752f), splat(1.0f)));
    Vec poly = splat(1.061405429f);
    poly = fmadd(poly, s, splat(-1.453152027f));
    poly = fmadd(poly, s, splat(1.421413741f));
    poly = fmadd(poly, s, splat(-0.284496736f));
    poly = fmadd(poly, s, splat(0.254829592f));
    poly = mul(poly, s);
    const Vec h = mul(mul(poly, E), splat(0.5f));  // Phi(-|x|)
    const Vec step = vmin(splat(1.0f), vmax(splat(0.0f), mul(x, splat(1e38f))));
    const Vec phi_x = fmadd(step, fnmadd(h, splat(2.0f), splat(1.0f)), h);  // h + step (1 - 2h)
    return fmadd(mul(x, E), splat(0.398942280401432678f), phi_x);
}

// gelu_tanh(x) = x sig, sig = 1 / (1 + exp(-2u)), 2u = -x (a + b x^2) as in gelu_tanh_vec:
//   gelu_tanh'(x) = sig + x sig (1 - sig) (2u)',  (2u)' = -(a + 3 b x^2)
inline __attribute__((always_inline)) Vec gelu_tanh_grad_vec(Vec xin) {
    const float a = -1.59576912160573072f, b = a * 0.044715f;
    const Vec x = clamp20(xin);
    const Vec x2 = mul(x, x);
    const Vec e = exp_approx(mul(x, fmadd(x2, splat(b), splat(a))));
    const Vec sig = div(splat(1.0f), add(splat(1.0f), e));
    const Vec du = fnmadd(x2, splat(3.0f * b), splat(-a));  // -(a + 3 b x^2)
    const Vec one_minus = sub(splat(1.0f), sig);
    return fmadd(mul(mul(x, sig), one_minus), du, sig);
}

template <Vec (*f)(Vec)>
void gelu_backward_range(const float* dy, const float* x, float* dx, int64_t n) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) store(dx + i, mul(load(dy + i), f(load(x + i))));
    if (i < n)
        store_part(dx + i, mul(load_part(dy + i, n - i, 0.0f), f(load_part(x + i, n - i, 0.0f))),
                   n - i);
}

void gelu_backward_erf(const float* dy, const float* x, float* dx, int64_t n) {
    gelu_backward_range<gelu_erf_grad_vec>(dy, x, dx, n);
}

void gelu_backward_tanh(const float* dy, const float* x, float* dx, int64_t n) {
    gelu_backward_range<gelu_tanh_grad_vec>(dy, x, dx, n);
}

}  // namespace

const GeluKernels gelu_kernels = {gelu_erf, gelu_tanh, gelu_backward_erf, gelu_backward_tanh};

}  // namespace vitlab::cpu::VITLAB_CPU_NS
