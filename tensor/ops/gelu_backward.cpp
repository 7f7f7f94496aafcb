// gelu_backward.cpp: gelu backward, one element at a time in double (formulas in the header).
#include "tensor/ops/gelu_backward.h"

#include <cmath>

#include "tensor/cpu/kernels.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

double gelu_grad_exact(double x) {
    const double cdf = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    return cdf + x * pdf;
}

double gelu_grad_tanh(double x) {
    const double k = std::sqrt(2.0 / M_PI), c = 0.044715;
    const double t = std::tanh(k * (x + c * x * x * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * c * x * x);
}

}  // namespace

Tensor gelu_backward(const Tensor& dy, const Tensor& x, GeluApproximate approximate,
                     Kernel kernel) {
    if (dy.shape() != x.shape())
        throw ShapeError(fmt::format("gelu_backward: dy {} and x {} must have the same shape",
                                     to_string(dy.shape()), to_string(x.shape())));
    const Tensor xc = x.contiguous(), dyc = dy.contiguous();
    Tensor dx = empty(x.shape());
    const bool tanh = approximate == GeluApproximate::Tanh;
    if (resolve(kernel) == Kernel::Blocked) {
        const cpu::GeluKernels& gk = cpu::kernels().gelu;
        const auto fn = tanh ? gk.backward_tanh : gk.backward_erf;
        const float *d = dyc.data(), *xs = xc.data();
        float* out = dx.data();
        parallel_for(0, x.numel(), kGrainSize,
                     [&](int64_t b, int64_t e) { fn(d + b, xs + b, out + b, e - b); });
        return dx;
    }
    for (int64_t i = 0; i < x.numel(); ++i) {
        const double xi = xc.data()[i];
        const double slope = tanh ? gelu_grad_tanh(xi) : gelu_grad_exact(xi);
        dx.data()[i] = static_cast<float>(dyc.data()[i] * slope);
    }
    return dx;
}

}  // namespace vitlab
