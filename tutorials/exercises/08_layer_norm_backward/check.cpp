// Checks for exercise 08 (layer norm backward). Run: make exercise N=8
//
// A hand-computed row, dweight and dbias summed over rows, the two facts that fail when mean
// and variance are treated as constants (a dy that shifts the row, and one that scales it,
// give dx = 0), a central difference through vitlab::layer_norm (no backward involved),
// agreement with vitlab::layer_norm_backward on token-shaped inputs, non-contiguous inputs,
// the inputs left unchanged, and the errors.
#include <doctest/doctest.h>

#include <cmath>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;

TEST_CASE("08 layer_norm_backward: x = [1, 2, 3, 4], weight [1, 2, 3, 4], dy = [1, 0, 0, 0]") {
    // xhat = [-1.3416, -0.4472, 0.4472, 1.3416], rstd = 1 / sqrt(1.25 + 1e-5), g = [1, 0, 0, 0]:
    // mean(g) = 0.25, mean(g * xhat) = -0.3354; dx = rstd * (g - 0.25 - xhat * -0.3354).
    // Treating mean and var as constants gives dx = rstd * g = [0.894, 0, 0, 0] instead.
    const auto grads = exercises::layer_norm_backward(from_vector({1, 0, 0, 0}, {1, 4}),
                                                      from_vector({1, 2, 3, 4}, {1, 4}),
                                                      from_vector({1, 2, 3, 4}, {4}), 1e-5f);
    check_close(grads.dx, from_vector({0.2683303f, -0.3577684f, -0.0894434f, 0.1788815f}, {1, 4}),
                1e-6f);
}

TEST_CASE("08 layer_norm_backward: dweight and dbias add up every row") {
    // Row 2 is row 1 reversed, so its xhat is row 1's negated and reversed.
    // dbias = dy summed over rows; dweight = (dy * xhat) summed over rows.
    const auto grads = exercises::layer_norm_backward(from_vector({1, 0, 0, 0, 0, 0, 0, 2}, {2, 4}),
                                                      from_vector({1, 2, 3, 4, 4, 3, 2, 1}, {2, 4}),
                                                      ones({4}), 1e-5f);
    check_close(grads.dbias, from_vector({1, 0, 0, 2}, {4}), 1e-6f);
    check_close(grads.dweight, from_vector({-1.3416354f, 0, 0, -2.6832708f}, {4}), 1e-6f);
}

TEST_CASE(
    "08 layer_norm_backward: a dy that shifts the whole row gives dx = 0 (mean depends on x)") {
    // Adding c to every x_j of a row changes nothing: the mean absorbs it. So a dy that is the
    // same along the row (with weight 1) asks for no change of x. Treating the mean as a
    // constant gives dx = rstd * dy instead, far from 0.
    Generator gen(1);
    const Tensor x = randn({3, 16}, gen) * 2.0f + 1.0f;
    const auto grads = exercises::layer_norm_backward(full({3, 16}, 0.5f), x, ones({16}), 1e-5f);
    check_close(grads.dx, zeros({3, 16}), 1e-5f);
}

TEST_CASE("08 layer_norm_backward: a dy along xhat gives dx ~ 0 (the variance depends on x)") {
    // Scaling a row around its mean changes nothing either: the variance absorbs it. The
    // direction of that change is xhat, so dy = xhat (weight 1) gives
    // dx = rstd * xhat * (1 - var / (var + eps)), almost 0. A backward that keeps the mean's term
    // but treats the variance as a constant gives rstd * xhat instead.
    Generator gen(2);
    const Tensor x = randn({3, 16}, gen) * 2.0f + 1.0f;
    const Tensor xhat = vitlab::layer_norm(x, ones({16}), zeros({16}), 1e-5f);
    const auto grads = exercises::layer_norm_backward(xhat, x, ones({16}), 1e-5f);
    check_close(grads.dx, zeros({3, 16}), 1e-4f);
}

TEST_CASE("08 layer_norm_backward: dx matches a central difference through layer_norm") {
    // dloss/dx_k for loss = sum(layer_norm(x) * dy), measured: nudge x_k by +-h, run the
    // forward. No backward formula is involved.
    Generator gen(3);
    const int64_t C = 6;
    const Tensor x = randn({2, C}, gen), dy = randn({2, C}, gen);
    const Tensor w = randn({C}, gen), b = randn({C}, gen);
    auto loss = [&](const Tensor& xx) {
        return vitlab::sum((vitlab::layer_norm(xx, w, b, 1e-5f) * dy).reshape({-1}), 0).item();
    };
    const float h = 1e-2f;
    Tensor numeric = zeros({2, C});
    for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < C; ++c) {
            Tensor up = x.clone(), down = x.clone();
            up.at({r, c}) += h;
            down.at({r, c}) -= h;
            numeric.at({r, c}) = (loss(up) - loss(down)) / (2 * h);
        }
    check_close(exercises::layer_norm_backward(dy, x, w, 1e-5f).dx, numeric, 5e-3f, 2e-2f);
}

TEST_CASE(
    "08 layer_norm_backward: agrees with vitlab::layer_norm_backward on (1, 197, 768) and (2, 5, "
    "64)") {
    Generator gen(4);
    for (const Shape& shape : {Shape{1, 197, 768}, Shape{2, 5, 64}}) {
        const int64_t C = shape.back();
        const Tensor x = randn(shape, gen) * 2.0f + 0.5f, dy = randn(shape, gen);
        const Tensor w = randn({C}, gen);
        for (float eps : {1e-6f, 1e-5f}) {
            CAPTURE(to_string(shape));
            CAPTURE(eps);
            const auto mine = exercises::layer_norm_backward(dy, x, w, eps);
            const LayerNormGrads ref = vitlab::layer_norm_backward(dy, x, w, eps);
            check_close(mine.dx, ref.dx, 1e-4f, 1e-4f);
            check_close(mine.dweight, ref.dweight, 1e-3f, 1e-4f);
            check_close(mine.dbias, ref.dbias, 1e-3f, 1e-4f);
        }
    }
}

TEST_CASE("08 layer_norm_backward: non-contiguous dy and x (transposed views)") {
    Generator gen(5);
    const Tensor x = randn({2, 48, 7}, gen).transpose(1, 2);  // (2, 7, 48), not row-major
    const Tensor dy = randn({2, 48, 7}, gen).transpose(1, 2);
    const Tensor w = randn({48}, gen);
    const auto mine = exercises::layer_norm_backward(dy, x, w, 1e-5f);
    const LayerNormGrads ref =
        vitlab::layer_norm_backward(dy.contiguous(), x.contiguous(), w, 1e-5f);
    check_close(mine.dx, ref.dx, 1e-4f, 1e-4f);
    check_close(mine.dweight, ref.dweight, 1e-4f, 1e-4f);
    check_close(mine.dbias, ref.dbias, 1e-4f, 1e-4f);
}

TEST_CASE("08 layer_norm_backward: the inputs dy, x and weight are left unchanged") {
    // Packed inputs are where contiguous() hands back the caller's own storage.
    Generator gen(7);
    const auto dy = before("dy", randn({1, 5, 8}, gen));
    const auto x = before("x", randn({1, 5, 8}, gen) * 2.0f + 1.0f);
    const auto weight = before("weight", randn({8}, gen));
    exercises::layer_norm_backward(dy.input, x.input, weight.input, 1e-5f);
    check_unchanged(dy);
    check_unchanged(x);
    check_unchanged(weight);
}

TEST_CASE("08 layer_norm_backward: wrong shapes throw ShapeError naming layer_norm_backward") {
    const Tensor x = zeros({3, 8});
    CHECK_THROWS_WITH_AS(exercises::layer_norm_backward(zeros({3, 7}), x, ones({8}), 1e-5f),
                         doctest::Contains("layer_norm_backward"), ShapeError);
    CHECK_THROWS_WITH_AS(exercises::layer_norm_backward(zeros({3, 8}), x, ones({7}), 1e-5f),
                         doctest::Contains("layer_norm_backward"), ShapeError);
}
