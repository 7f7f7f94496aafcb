// backward_helpers.h: what the backward tests share (tests/test_backward_*.cpp).
//
// strided(t): the same values as t in a non-contiguous layout (every other float of a wider
// buffer), so each backward is also run on inputs it must read through strides.
// check_grad(actual, expected): the comparison with PyTorch's float32 autograd. Both sides
// round differently (sums in another order, double here), so the tolerance scales with the
// largest expected value: |a - e| <= 1e-5 * max|e| + 1e-4 * |e|.
#pragma once

#include <algorithm>
#include <cmath>

#include "tests/fixture.h"

namespace vitlab::testing {

inline Tensor strided(const Tensor& t) {
    if (t.dim() == 0) return t;
    Shape wide = t.shape();
    wide.back() *= 2;
    Tensor view = zeros(wide).slice(-1, 0, wide.back(), 2);
    view.copy_(t);
    if (t.numel() > 1) REQUIRE_FALSE(view.is_contiguous());
    return view;
}

inline float max_abs(const Tensor& t) {
    float m = 0.0f;
    for (float v : t.to_vector()) m = std::max(m, std::abs(v));
    return m;
}

inline void check_grad(const Tensor& actual, const Tensor& expected) {
    check_close(actual, expected, 1e-5f * std::max(max_abs(expected), 1.0f), 1e-4f);
}

}  // namespace vitlab::testing
