// Checks for exercise 07 (softmax backward). Run: make exercise N=7
//
// A hand-computed row, the two properties a softmax gradient has (a dy that is the same for the
// whole row gives dx = 0; every row of dx sums to 0: both fail when the sum(dy * y) term is
// forgotten), a central difference through vitlab::softmax (no backward involved), any dim,
// non-contiguous inputs, agreement with vitlab::softmax_backward on attention-sized
// probabilities, the inputs left unchanged, and the errors.
#include <doctest/doctest.h>

#include <cmath>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;

TEST_CASE("07 softmax_backward: y = softmax([1, 2, 3]), dy = [1, 0, 0] by hand") {
    // s = sum(dy * y) = y_0; dx = y * (dy - y_0) = [y_0 (1 - y_0), -y_1 y_0, -y_2 y_0].
    const Tensor y = from_vector({0.09003057f, 0.24472847f, 0.66524096f}, {3});
    const Tensor dx = exercises::softmax_backward(from_vector({1, 0, 0}, {3}), y, 0);
    check_close(dx, from_vector({0.08192507f, -0.02203304f, -0.05989202f}, {3}), 1e-6f);
}

TEST_CASE("07 softmax_backward: the sum(dy * y) term is there (dy = [0.5, -1, 2])") {
    // Forgetting it leaves dx = y * dy = [0.045, -0.245, 1.330], not the right answer.
    const Tensor y = from_vector({0.09003057f, 0.24472847f, 0.66524096f}, {1, 3});
    const Tensor dx = exercises::softmax_backward(from_vector({0.5f, -1, 2}, {1, 3}), y, -1);
    check_close(dx, from_vector({-0.05678847f, -0.52145977f, 0.57824824f}, {1, 3}), 1e-6f);
}

TEST_CASE("07 softmax_backward: a dy that is the same along the row gives dx = 0") {
    // softmax(x + c) = softmax(x): pushing every y_j the same way is impossible (they sum to 1),
    // so such a dy asks for no change of x. Here y * dy alone would be y * 3, far from 0.
    Generator gen(1);
    const Tensor y = vitlab::softmax(randn({4, 6}, gen), -1);
    const Tensor dx = exercises::softmax_backward(full({4, 6}, 3.0f), y, -1);
    check_close(dx, zeros({4, 6}), 1e-6f);
}

TEST_CASE("07 softmax_backward: every row of dx sums to 0") {
    // sum_i y_i (dy_i - s) = s - s * sum_i y_i = 0, since the y_i sum to 1.
    Generator gen(2);
    const Tensor y = vitlab::softmax(randn({5, 9}, gen) * 2.0f, -1);
    const Tensor dx = exercises::softmax_backward(randn({5, 9}, gen), y, -1);
    REQUIRE(dx.shape() == y.shape());
    check_close(vitlab::sum(dx, -1), zeros({5}), 1e-6f);
}

TEST_CASE("07 softmax_backward: matches a central difference through softmax") {
    // dloss/dx_k for loss = sum(softmax(x) * dy), measured: nudge x_k by +-h, run the forward.
    // No backward formula is involved, so this check holds even if the library's were wrong.
    Generator gen(3);
    const Tensor x = randn({3, 5}, gen), dy = randn({3, 5}, gen);
    const Tensor y = vitlab::softmax(x, -1);
    const float h = 1e-2f;
    Tensor numeric = zeros({3, 5});
    for (int64_t r = 0; r < 3; ++r)
        for (int64_t c = 0; c < 5; ++c) {
            Tensor up = x.clone(), down = x.clone();
            up.at({r, c}) += h;
            down.at({r, c}) -= h;
            const float lu = vitlab::sum((vitlab::softmax(up, -1) * dy).reshape({-1}), 0).item();
            const float ld = vitlab::sum((vitlab::softmax(down, -1) * dy).reshape({-1}), 0).item();
            numeric.at({r, c}) = (lu - ld) / (2 * h);
        }
    check_close(exercises::softmax_backward(dy, y, -1), numeric, 2e-3f, 1e-2f);
}

TEST_CASE("07 softmax_backward: any dim, negative dims count from the end") {
    Generator gen(4);
    const Tensor x = randn({3, 4, 5}, gen), dy = randn({3, 4, 5}, gen);
    for (int64_t dim : {0, 1, 2, -1, -3}) {
        CAPTURE(dim);
        const Tensor y = vitlab::softmax(x, dim);
        check_close(exercises::softmax_backward(dy, y, dim), vitlab::softmax_backward(dy, y, dim),
                    1e-6f, 1e-5f);
    }
}

TEST_CASE("07 softmax_backward: non-contiguous dy and y (transposed views)") {
    Generator gen(5);
    const Tensor y = vitlab::softmax(randn({2, 6, 9}, gen), 1).transpose(1, 2);  // (2, 9, 6)
    const Tensor dy = randn({2, 6, 9}, gen).transpose(1, 2);
    check_close(exercises::softmax_backward(dy, y, -1),
                vitlab::softmax_backward(dy.contiguous(), y.contiguous(), -1), 1e-6f, 1e-5f);
}

TEST_CASE("07 softmax_backward: agrees with vitlab::softmax_backward on (1, 3, 197, 197)") {
    // Attention probabilities of a ViT at 224 px: 197 = 196 patches + the class token.
    Generator gen(6);
    const Tensor y = vitlab::softmax(randn({1, 3, 197, 197}, gen) * 4.0f, -1);
    const Tensor dy = randn({1, 3, 197, 197}, gen);
    check_close(exercises::softmax_backward(dy, y, -1), vitlab::softmax_backward(dy, y, -1), 1e-6f,
                1e-4f);
}

TEST_CASE("07 softmax_backward: the inputs dy and y are left unchanged") {
    // Packed inputs along dim -1 are where contiguous() hands back the caller's own storage.
    Generator gen(7);
    const auto dy = before("dy", randn({4, 7}, gen));
    const auto y = before("y", vitlab::softmax(randn({4, 7}, gen), -1));
    exercises::softmax_backward(dy.input, y.input, -1);
    check_unchanged(dy);
    check_unchanged(y);
}

TEST_CASE("07 softmax_backward: mismatched shapes throw ShapeError, a bad dim IndexError") {
    CHECK_THROWS_WITH_AS(exercises::softmax_backward(zeros({2, 3}), zeros({3, 2}), -1),
                         doctest::Contains("softmax_backward"), ShapeError);
    CHECK_THROWS_AS(exercises::softmax_backward(zeros({2, 3}), zeros({2, 3}), 2), IndexError);
}
