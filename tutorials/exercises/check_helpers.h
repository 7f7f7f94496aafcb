// check_helpers.h: small helpers shared by the exercise checkers (not part of any exercise).
//
// check_close(actual, expected) is the one comparison every checker uses: it first requires
// the same shape (a wrong shape stops the check before any element is read), then allows
// |actual - expected| <= atol + rtol * |expected| and names the worst element.
// before() + check_unchanged() make sure a function left its inputs as it found them.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace vitlab::exercises {

// The multi-index of flat (row-major) position i in shape, printed like a shape: "(0, 2, 1)".
inline std::string index_string(int64_t i, const Shape& shape) {
    Shape index(shape.size());
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        index[d] = i % shape[d];
        i /= shape[d];
    }
    return to_string(index);
}

// The numbers of a small tensor in row-major order, as a Python list: "[0, 1000, -inf]".
inline std::string values_string(const Tensor& x) {
    std::ostringstream out;
    out << '[';
    const std::vector<float> v = x.to_vector();
    for (size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
    out << ']';
    return out.str();
}

// file and line default to the caller's (GCC and clang evaluate __builtin_FILE/LINE at the call
// site), so a failure points at the check in check.cpp, not at this helper.
inline void check_close(const Tensor& actual, const Tensor& expected, float atol = 1e-5f,
                        float rtol = 1e-5f, const char* file = __builtin_FILE(),
                        int line = __builtin_LINE()) {
    if (actual.shape() != expected.shape())  // fatal: stop this check before reading elements
        ADD_FAIL_AT(file, line,
                    "your result has shape " << to_string(actual.shape())
                                             << " but the expected shape is "
                                             << to_string(expected.shape()));
    const std::vector<float> a = actual.to_vector();
    const std::vector<float> e = expected.to_vector();
    int64_t worst = -1, bad = 0;
    float worst_excess = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
        const float diff = std::abs(a[i] - e[i]);
        const float excess = diff - (atol + rtol * std::abs(e[i]));
        const bool same_nan = std::isnan(a[i]) && std::isnan(e[i]);
        const bool same_inf = std::isinf(a[i]) && a[i] == e[i];
        if (same_nan || same_inf || excess <= 0.0f) continue;
        ++bad;
        // NaN compares false with everything: make sure a NaN is reported as the worst.
        if (worst < 0 || std::isnan(excess) || excess > worst_excess) {
            worst = static_cast<int64_t>(i);
            worst_excess = std::isnan(excess) ? INFINITY : excess;
        }
    }
    if (bad == 0) return;
    ADD_FAIL_CHECK_AT(file, line,
                      bad << " of " << a.size() << " elements differ; worst at index "
                          << index_string(worst, expected.shape()) << ": got " << a[worst]
                          << ", expected " << e[worst] << " (tolerance " << atol << " + " << rtol
                          << " * |expected|)");
}

// A copy of an input taken before the call (same shape, packed), to compare with afterwards.
struct Before {
    std::string name;  // the argument's name in the exercise's signature: "x", "weight"
    Tensor input;      // the caller's tensor (a handle: it sees any write the function made)
    Tensor copy;       // its values before the call
};
inline Before before(const std::string& name, const Tensor& input) {
    return Before{name, input, input.clone()};
}

// Fails when the function wrote into one of its inputs, naming the argument and the first
// changed element. The usual cause: x.contiguous() of an already contiguous x is x itself
// (the same storage, not a copy), so writing through it writes into the caller's tensor.
inline void check_unchanged(const Before& b, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
    const std::vector<float> now = b.input.to_vector();
    const std::vector<float> was = b.copy.to_vector();
    for (size_t i = 0; i < now.size(); ++i) {
        const bool same = now[i] == was[i] || (std::isnan(now[i]) && std::isnan(was[i]));
        if (same) continue;
        ADD_FAIL_CHECK_AT(file, line,
                          "your function changed its input '"
                              << b.name << "' at index "
                              << index_string(static_cast<int64_t>(i), b.input.shape())
                              << ": it was " << was[i] << ", now it is " << now[i]
                              << ". Write into a copy of your own (clone()); contiguous() of a "
                                 "contiguous tensor returns the same storage, not a copy.");
        return;
    }
}

}  // namespace vitlab::exercises

// Lets doctest print shapes in failed checks: "(1, 576, 768)" instead of "{?}".
namespace doctest {
template <>
struct StringMaker<vitlab::Shape> {
    static String convert(const vitlab::Shape& shape) { return vitlab::to_string(shape).c_str(); }
};
}  // namespace doctest
