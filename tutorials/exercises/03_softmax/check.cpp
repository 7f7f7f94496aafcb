// Checks for exercise 03 (numerically stable softmax). Run: make exercise N=3
//
// A hand-computed row, the overflow cases that make the max subtraction necessary (with the
// max anywhere in the row), masked (-inf) scores, the two properties every softmax has (rows sum to
// 1, shifting a row changes nothing), any dim, non-contiguous input, agreement with
// vitlab::softmax, the input left as it was, and the error case.
#include <doctest/doctest.h>

#include <cmath>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;
using vitlab::exercises::values_string;

namespace {

// softmax(x, 1) of a 2-d x against expected, row by row: a failure names the input row.
void check_rows(const Tensor& x, const Tensor& expected, const char* file = __builtin_FILE(),
                int line = __builtin_LINE()) {
    const Tensor out = exercises::softmax(x, 1);
    REQUIRE_MESSAGE(out.shape() == x.shape(), "your result has shape ", to_string(out.shape()),
                    ", the input ", to_string(x.shape()));
    for (int64_t r = 0; r < x.size(0); ++r) {
        INFO("input row ", r, ": ", values_string(x.select(0, r)),
             ", your softmax: ", values_string(out.select(0, r)));
        check_close(out.select(0, r), expected.select(0, r), 1e-6f, 1e-5f, file, line);
    }
}

}  // namespace

TEST_CASE("03 softmax: [1, 2, 3] by hand") {
    // exp(1), exp(2), exp(3) divided by their sum (PyTorch prints the same numbers).
    const Tensor out = exercises::softmax(from_vector({1, 2, 3}, {3}), 0);
    check_close(out, from_vector({0.09003057f, 0.24472847f, 0.66524094f}, {3}), 1e-6f);
}

TEST_CASE("03 softmax: large scores do not overflow (subtract the max first)") {
    // exp(1000) is inf in float: without the max subtraction these become inf / inf = NaN.
    const Tensor x = from_vector({1000, 1000, 1000, 0, -1000, -1000}, {3, 2});
    check_rows(x, from_vector({0.5f, 0.5f, 1, 0, 0.5f, 0.5f}, {3, 2}));
}

TEST_CASE("03 softmax: the max is subtracted wherever it sits in the row, not just first") {
    // Subtracting the first element x_0 instead of the max also cancels on paper, but then
    // exp(1000 - 0) and exp(100 - 0) overflow float (inf / inf = NaN), and x_0 = -inf gives
    // -inf - (-inf) = NaN. Only m = max_j x_j keeps every exp argument <= 0.
    const Tensor x = from_vector({0, 1000, -INFINITY, 0, 0, 100}, {3, 2});
    check_rows(x, from_vector({0, 1, 0, 1, std::exp(-100.0f), 1}, {3, 2}));
}

TEST_CASE("03 softmax: a score of -inf gets probability 0 (a masked position)") {
    const Tensor x = from_vector({0, -INFINITY, 0, 2, -INFINITY, -INFINITY}, {2, 3});
    check_rows(x, from_vector({0.5f, 0, 0.5f, 1, 0, 0}, {2, 3}));
}

TEST_CASE("03 softmax: every row sums to 1, and adding a constant to a row changes nothing") {
    Generator gen(3);
    const Tensor x = randn({4, 7}, gen) * 3.0f;
    const Tensor p = exercises::softmax(x, 1);
    REQUIRE(p.shape() == x.shape());
    for (int64_t r = 0; r < 4; ++r) {
        float sum = 0.0f;
        for (int64_t c = 0; c < 7; ++c) {
            CHECK(p.at({r, c}) > 0.0f);
            sum += p.at({r, c});
        }
        CHECK(sum == doctest::Approx(1.0f).epsilon(1e-6));
    }
    check_close(exercises::softmax(x + 50.0f, 1), p, 1e-6f);
}

TEST_CASE("03 softmax: any dim, negative dims count from the end") {
    Generator gen(4);
    const Tensor x = randn({3, 4, 5}, gen);
    for (int64_t dim : {0, 1, 2, -1, -3}) {
        CAPTURE(dim);
        check_close(exercises::softmax(x, dim), vitlab::softmax(x, dim), 1e-6f, 1e-5f);
    }
}

TEST_CASE("03 softmax: a non-contiguous input (transposed scores)") {
    Generator gen(5);
    const Tensor x = randn({2, 6, 9}, gen).transpose(1, 2);  // (2, 9, 6), strides not row-major
    check_close(exercises::softmax(x, -1), vitlab::softmax(x.contiguous(), -1), 1e-6f, 1e-5f);
    check_close(exercises::softmax(x, 1), vitlab::softmax(x.contiguous(), 1), 1e-6f, 1e-5f);
}

TEST_CASE("03 softmax: agrees with vitlab::softmax on attention scores (1, 3, 577, 577)") {
    // 577 = 576 patches + the class token; scale 8 makes the rows peaked, as trained ones are.
    Generator gen(6);
    const Tensor scores = randn({1, 3, 577, 577}, gen) * 8.0f;
    check_close(exercises::softmax(scores, -1), vitlab::softmax(scores, -1), 1e-6f, 1e-5f);
}

TEST_CASE("03 softmax: a dim of size 1 gives all ones") {
    Generator gen(7);
    check_close(exercises::softmax(randn({3, 1}, gen), 1), ones({3, 1}));
}

TEST_CASE("03 softmax: the input is left unchanged") {
    // A contiguous input along dim -1 is where x.contiguous() hands back x itself: writing the
    // exponentials into it would change the caller's scores.
    Generator gen(8);
    for (int64_t dim : {-1, 0}) {
        CAPTURE(dim);
        const auto x = before("x", randn({4, 7}, gen) * 3.0f);
        exercises::softmax(x.input, dim);
        check_unchanged(x);
    }
    const auto scores = before("x", randn({2, 5, 3}, gen).transpose(1, 2));  // a view
    exercises::softmax(scores.input, -1);
    check_unchanged(scores);
}

TEST_CASE("03 softmax: a dim out of range throws IndexError") {
    CHECK_THROWS_AS(exercises::softmax(zeros({2, 3}), 2), IndexError);
    CHECK_THROWS_AS(exercises::softmax(zeros({2, 3}), -3), IndexError);
}
