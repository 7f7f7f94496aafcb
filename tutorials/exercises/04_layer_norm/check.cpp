// Checks for exercise 04 (layer norm). Run: make exercise N=4
//
// Hand-computed rows (biased variance, weight and bias, eps), a constant row, agreement with
// vitlab::layer_norm on token-shaped inputs, rows with a large mean (where the one-pass variance
// formula breaks down), a non-contiguous input, the inputs left unchanged, and the error for a
// wrong weight shape.
#include <doctest/doctest.h>

#include <cmath>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;

TEST_CASE("04 layer_norm: [1, 2, 3, 4] by hand") {
    // mean 2.5, var (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, out = (x - 2.5) / sqrt(1.25 + 1e-5)
    const Tensor out =
        exercises::layer_norm(from_vector({1, 2, 3, 4}, {1, 4}), ones({4}), zeros({4}), 1e-5f);
    check_close(out, from_vector({-1.3416355f, -0.4472119f, 0.4472118f, 1.3416355f}, {1, 4}));
}

TEST_CASE("04 layer_norm: the variance divides by C, not C - 1") {
    // [0, 2]: mean 1, biased var 1 -> [-1, 1] / sqrt(1 + eps). Dividing by C - 1 gives +-0.707.
    const Tensor out =
        exercises::layer_norm(from_vector({0, 2}, {2}), ones({2}), zeros({2}), 1e-5f);
    check_close(out, from_vector({-0.999995f, 0.999995f}, {2}));
}

TEST_CASE("04 layer_norm: weight scales and bias shifts each channel") {
    const Tensor out =
        exercises::layer_norm(from_vector({1, 2, 3, 4}, {1, 4}), from_vector({1, 2, 3, 4}, {4}),
                              from_vector({0.5f, 0, -0.5f, 1}, {4}), 1e-5f);
    check_close(out, from_vector({-0.8416355f, -0.8944237f, 0.8416354f, 6.3665419f}, {1, 4}));
}

TEST_CASE("04 layer_norm: eps is added to the variance, as given") {
    // [0, 0.002]: var = 1e-6, so eps matters: +-0.001 / sqrt(1e-6 + eps).
    const Tensor x = from_vector({0, 0.002f}, {2});
    check_close(exercises::layer_norm(x, ones({2}), zeros({2}), 1e-6f),
                from_vector({-0.7071068f, 0.7071068f}, {2}), 1e-4f);
    check_close(exercises::layer_norm(x, ones({2}), zeros({2}), 1e-5f),
                from_vector({-0.3015113f, 0.3015113f}, {2}), 1e-4f);
}

TEST_CASE("04 layer_norm: a constant row becomes the bias (eps keeps it finite)") {
    // var = 0: without eps this is 0 / 0 = NaN.
    const Tensor out = exercises::layer_norm(full({2, 3}, 5.0f), ones({3}),
                                             from_vector({0.1f, 0.2f, 0.3f}, {3}), 1e-5f);
    check_close(out, from_vector({0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.3f}, {2, 3}));
}

TEST_CASE("04 layer_norm: agrees with vitlab::layer_norm on tokens (1, 577, 768) and (2, 5, 64)") {
    // A ViT's LayerNorms use eps = 1e-6 (timm), PyTorch's default is 1e-5: try both.
    Generator gen(4);
    for (const Shape& shape : {Shape{1, 577, 768}, Shape{2, 5, 64}}) {
        const int64_t C = shape.back();
        const Tensor x = randn(shape, gen) * 2.0f + 0.5f;
        const Tensor w = randn({C}, gen), b = randn({C}, gen);
        for (float eps : {1e-6f, 1e-5f}) {
            CAPTURE(to_string(shape));
            CAPTURE(eps);
            check_close(exercises::layer_norm(x, w, b, eps), vitlab::layer_norm(x, w, b, eps),
                        1e-4f, 1e-4f);
        }
    }
}

TEST_CASE("04 layer_norm: rows with a large mean (1000 + noise) keep their precision") {
    // The reference is computed here in double. var = E[x^2] - E[x]^2 in float32 subtracts two
    // numbers near 1e6 whose difference is about 1: it loses almost every digit. Subtracting
    // the mean first (two passes) does not.
    Generator gen(5);
    const int64_t C = 64;
    const Tensor x = randn({8, C}, gen) + 1000.0f;
    Tensor expected = zeros({8, C});
    for (int64_t r = 0; r < 8; ++r) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < C; ++i) mean += x.at({r, i});
        mean /= C;
        for (int64_t i = 0; i < C; ++i) var += (x.at({r, i}) - mean) * (x.at({r, i}) - mean);
        var /= C;
        for (int64_t i = 0; i < C; ++i)
            expected.at({r, i}) = static_cast<float>((x.at({r, i}) - mean) / std::sqrt(var + 1e-5));
    }
    check_close(exercises::layer_norm(x, ones({C}), zeros({C}), 1e-5f), expected, 1e-2f, 0.0f);
}

TEST_CASE("04 layer_norm: a non-contiguous input (a transposed view)") {
    Generator gen(6);
    const Tensor x = randn({2, 48, 7}, gen).transpose(1, 2);  // (2, 7, 48), not row-major
    const Tensor w = randn({48}, gen), b = randn({48}, gen);
    check_close(exercises::layer_norm(x, w, b, 1e-5f),
                vitlab::layer_norm(x.contiguous(), w, b, 1e-5f), 1e-4f, 1e-4f);
}

TEST_CASE("04 layer_norm: the input, weight and bias are left unchanged") {
    // A contiguous x is where x.contiguous() hands back x itself: normalising the rows in
    // place would overwrite the caller's tokens (and the residual x + attn(norm1(x)) needs them).
    Generator gen(7);
    const auto x = before("x", randn({1, 5, 8}, gen) * 2.0f + 1.0f);
    const auto weight = before("weight", randn({8}, gen));
    const auto bias = before("bias", randn({8}, gen));
    exercises::layer_norm(x.input, weight.input, bias.input, 1e-5f);
    check_unchanged(x);
    check_unchanged(weight);
    check_unchanged(bias);
}

TEST_CASE("04 layer_norm: a weight of the wrong size throws ShapeError naming layer_norm") {
    const Tensor x = zeros({3, 8});
    CHECK_THROWS_WITH_AS(exercises::layer_norm(x, ones({7}), zeros({8}), 1e-5f),
                         doctest::Contains("layer_norm"), ShapeError);
    CHECK_THROWS_WITH_AS(exercises::layer_norm(x, ones({8}), zeros({9}), 1e-5f),
                         doctest::Contains("layer_norm"), ShapeError);
}
