// test_backward_errors.cpp: what the backward functions promise besides their numbers: dropout's
// mask, and clear errors on gradients of the wrong shape.
#include <doctest/doctest.h>

#include <string>

#include "tests/fixture.h"

using namespace vitlab;

namespace {

// The message of the ShapeError fn throws ("" if none).
template <typename F>
std::string shape_error(F fn) {
    try {
        fn();
    } catch (const ShapeError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("dropout: drops about p of the elements, scales the rest by 1 / (1 - p)") {
    Generator gen(1);
    const Tensor x = ones({100, 100});
    const DropoutResult r = dropout(x, 0.25f, gen);
    int64_t dropped = 0;
    for (float v : r.out.to_vector()) {
        CHECK((v == 0.0f || v == doctest::Approx(1.0f / 0.75f)));
        dropped += v == 0.0f;
    }
    // 10000 draws with p = 0.25: the standard deviation of the count is 43.
    CHECK(dropped > 2500 - 200);
    CHECK(dropped < 2500 + 200);
    CHECK(max_abs_diff(r.out, r.mask) == 0.0f);  // x is ones: out is the mask
}

TEST_CASE("dropout: the same seed gives the same mask; eval and p = 0 pass x through") {
    Generator a(7), b(7), c(8);
    const Tensor x = ones({64});
    CHECK(max_abs_diff(dropout(x, 0.5f, a).mask, dropout(x, 0.5f, b).mask) == 0.0f);
    CHECK(max_abs_diff(dropout(x, 0.5f, a).mask, dropout(x, 0.5f, c).mask) > 0.0f);
    const DropoutResult eval = dropout(x, 0.5f, a, false);
    CHECK(max_abs_diff(eval.out, x) == 0.0f);
    CHECK(max_abs_diff(dropout_backward(x * 3.0f, eval.mask), x * 3.0f) == 0.0f);
    CHECK(dropout(x, 1.0f, a).out.to_vector() == zeros({64}).to_vector());
    CHECK_THROWS_AS(dropout(x, 1.5f, a), std::invalid_argument);
}

TEST_CASE("backward functions name the op and the shapes when dy does not fit") {
    const Tensor a = ones({2, 3}), b = ones({3, 4});
    CHECK(shape_error([&] {
              matmul_backward(ones({2, 5}), a, b);
          }).find("matmul_backward") != std::string::npos);
    CHECK(shape_error([&] {
              linear_backward(ones({2, 5}), a, ones({4, 3}));
          }).find("(2, 4)") != std::string::npos);
    CHECK(shape_error([&] { sum_to(ones({2, 3}), {4}); }).find("(2, 3)") != std::string::npos);
    CHECK(shape_error([&] {
              sum_backward(ones({3}), {2, 3, 4}, 1);
          }).find("expected (2, 4)") != std::string::npos);
    CHECK(shape_error([&] { softmax_backward(ones({2}), a, -1); }).find("softmax_backward") !=
          std::string::npos);
    CHECK(shape_error([&] {
              select_backward(ones({3}), {2, 4}, 1, 0);
          }).find("(2,)") != std::string::npos);
    CHECK(shape_error([&] {
              conv2d_backward(ones({1, 1, 2, 2}), ones({1, 1, 4, 4}), ones({1, 1, 2, 2}), false, 1);
          }).find("expected (1, 1, 3, 3)") != std::string::npos);
    CHECK(shape_error([&] {
              scaled_dot_product_attention_backward(ones({1, 2, 3, 2}), ones({1, 2, 3, 2}),
                                                    ones({1, 2, 3, 2}), ones({1, 2, 3, 2}),
                                                    ones({1, 3, 4}), 1.0f);
          }).find("(1, 3, 4)") != std::string::npos);
}

TEST_CASE("cross_entropy: rejects a target that is not a class index") {
    const Tensor logits = zeros({2, 3});
    CHECK_THROWS_AS(cross_entropy(logits, from_vector({0, 3}, {2}), 0.0f), IndexError);
    CHECK_THROWS_AS(cross_entropy(logits, from_vector({0, 1.5f}, {2}), 0.0f), IndexError);
    CHECK_THROWS_AS(cross_entropy(logits, from_vector({0}, {1}), 0.0f), ShapeError);
    CHECK_THROWS_AS(cross_entropy(logits, from_vector({0, 1}, {2}), 1.5f), std::invalid_argument);
    // Uniform logits: the loss is log C whatever the target and the smoothing.
    CHECK(cross_entropy(logits, from_vector({0, 2}, {2}), 0.3f).item() ==
          doctest::Approx(std::log(3.0)));
}
