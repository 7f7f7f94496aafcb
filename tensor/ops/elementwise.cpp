// elementwise.cpp: out = a (op) b with broadcasting (see elementwise.h).
//
// Both inputs are expanded to the output shape (stride 0 on broadcast dims, nothing copied),
// then one loop walks the output. The innermost dim is a plain strided loop, which the
// compiler vectorises when both inner strides are 1, the common case. Large outputs are split
// between threads by rows: a residual add of ViT-B (577 x 768) is memory-bound and ran on
// one core while the other waited.
#include "tensor/ops/elementwise.h"

#include <cmath>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/parallel/thread_pool.h"

namespace vitlab {

namespace {

template <typename Op>
void apply(const Tensor& a, const Tensor& b, Tensor& out, Op op) {
    const Shape& shape = out.shape();
    const int64_t n = out.numel();
    if (n == 0) return;
    const Tensor ea = a.expand(shape), eb = b.expand(shape);
    const size_t rank = shape.size();
    float* o = out.data();
    if (rank == 0) {
        *o = op(*ea.data(), *eb.data());
        return;
    }
    const int64_t inner = shape[rank - 1];
    const int64_t sa = ea.strides()[rank - 1], sb = eb.strides()[rank - 1];
    const int64_t so = out.strides()[rank - 1];
    // Rows (all dims but the last) are split between threads: every element is computed by
    // one thread, the same way, so the result does not depend on the thread count. A row
    // starts from its index (r0 unravelled), then the index steps like an odometer.
    auto rows = [&](int64_t r0, int64_t r1) {
        std::vector<int64_t> idx(rank, 0);
        int64_t r = r0;
        for (size_t d = rank - 1; d-- > 0;) {  // the outer dims, last first
            idx[d] = r % shape[d];
            r /= shape[d];
        }
        for (int64_t row = r0; row < r1; ++row) {
            const float* pa = ea.data();
            const float* pb = eb.data();
            float* po = o;
            for (size_t d = 0; d + 1 < rank; ++d) {
                pa += idx[d] * ea.strides()[d];
                pb += idx[d] * eb.strides()[d];
                po += idx[d] * out.strides()[d];
            }
            if (sa == 1 && sb == 1 && so == 1) {
                for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i], pb[i]);
            } else {
                for (int64_t i = 0; i < inner; ++i) po[i * so] = op(pa[i * sa], pb[i * sb]);
            }
            for (size_t d = rank - 1; d-- > 0;) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    };
    parallel_for(0, n / inner, ceil_div(kGrainSize, inner), rows);
}

template <typename Op>
Tensor binary(const Tensor& a, const Tensor& b, const char* name, Op op) {
    Tensor out = empty(broadcast_shapes(a.shape(), b.shape(), name));
    apply(a, b, out, op);
    return out;
}

Tensor scalar(float s) {
    return full(Shape{}, s);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    if (autograd::recording(a, b))
        return autograd::recorded([&] { return add(a, b); },
                                  [&](Tensor& out) { autograd::record_add(out, a, b); });
    return binary(a, b, "add", [](float x, float y) { return x + y; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
    if (autograd::recording(a, b))
        return autograd::recorded([&] { return sub(a, b); },
                                  [&](Tensor& out) { autograd::record_sub(out, a, b); });
    return binary(a, b, "sub", [](float x, float y) { return x - y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
    if (autograd::recording(a, b))
        return autograd::recorded([&] { return mul(a, b); },
                                  [&](Tensor& out) { autograd::record_mul(out, a, b); });
    return binary(a, b, "mul", [](float x, float y) { return x * y; });
}
Tensor div(const Tensor& a, const Tensor& b) {
    if (autograd::recording(a, b))
        return autograd::recorded([&] { return div(a, b); },
                                  [&](Tensor& out) { autograd::record_div(out, a, b); });
    return binary(a, b, "div", [](float x, float y) { return x / y; });
}

Tensor Tensor::add(const Tensor& other) const {
    return vitlab::add(*this, other);
}
Tensor Tensor::sub(const Tensor& other) const {
    return vitlab::sub(*this, other);
}
Tensor Tensor::mul(const Tensor& other) const {
    return vitlab::mul(*this, other);
}
Tensor Tensor::div(const Tensor& other) const {
    return vitlab::div(*this, other);
}

Tensor operator+(const Tensor& a, const Tensor& b) {
    return add(a, b);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
    return sub(a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
    return mul(a, b);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
    return div(a, b);
}
Tensor operator+(const Tensor& a, float s) {
    return add(a, scalar(s));
}
Tensor operator-(const Tensor& a, float s) {
    return sub(a, scalar(s));
}
Tensor operator*(const Tensor& a, float s) {
    return mul(a, scalar(s));
}
Tensor operator/(const Tensor& a, float s) {
    return div(a, scalar(s));
}
Tensor operator+(float s, const Tensor& a) {
    return add(scalar(s), a);
}
Tensor operator-(float s, const Tensor& a) {
    return sub(scalar(s), a);
}
Tensor operator*(float s, const Tensor& a) {
    return mul(scalar(s), a);
}
Tensor operator/(float s, const Tensor& a) {
    return div(scalar(s), a);
}
Tensor operator-(const Tensor& a) {
    return mul(a, scalar(-1.0f));
}

Tensor& operator+=(Tensor& a, const Tensor& b) {
    check_writable(a, "add_");
    if (autograd::recording(a, b)) return autograd::add_inplace(a, b);
    autograd::bump_version(a);
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), "add_");
    if (shape != a.shape())
        throw ShapeError(fmt::format("add_: {} does not broadcast to the in-place shape {}",
                                     to_string(b.shape()), to_string(a.shape())));
    // b may alias a (x += x): the loop reads each element before writing that same element,
    // but a partial overlap could read written values, so copy b first when they share storage.
    const Tensor rhs = b.shares_storage_with(a) ? b.clone() : b;
    apply(a, rhs, a, [](float x, float y) { return x + y; });
    return a;
}

Tensor& operator*=(Tensor& a, float s) {
    check_writable(a, "mul_");
    if (autograd::recording(a)) return autograd::scale_inplace(a, s);
    autograd::bump_version(a);
    apply(a, scalar(s), a, [](float x, float y) { return x * y; });
    return a;
}

Tensor map(const Tensor& a, float (*f)(float)) {
    autograd::no_backward("map (exp, sqrt)", a);
    Tensor out = a.clone();
    float* p = out.data();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = f(p[i]);
    return out;
}

Tensor exp(const Tensor& a) {
    return map(a, [](float x) { return std::exp(x); });
}
Tensor sqrt(const Tensor& a) {
    return map(a, [](float x) { return std::sqrt(x); });
}

}  // namespace vitlab
