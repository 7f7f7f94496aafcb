// Checks for exercise 01 (naive conv2d). Run: make exercise N=1
//
// Small cases computed by hand first, then agreement with the library's conv2d on random
// inputs, then the edge cases: padding, stride, an empty bias, a non-contiguous input, errors.
#include <doctest/doctest.h>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;

TEST_CASE("01 conv2d: 3x3 image, 2x2 kernel of ones, by hand") {
    // image 1..9; each output is the sum of one 2x2 window.
    const Tensor image = from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
    const Tensor weight = ones({1, 1, 2, 2});
    const Tensor out = exercises::conv2d(image, weight, Tensor(), 1, 0);
    check_close(out, from_vector({12, 16, 24, 28}, {1, 1, 2, 2}));
}

TEST_CASE("01 conv2d: every input channel is summed and the bias is added once") {
    // All ones: each output sums C_in * kH * kW = 2 * 2 * 2 = 8 products, plus its bias.
    const Tensor image = ones({1, 2, 3, 3});
    const Tensor weight = ones({3, 2, 2, 2});
    const Tensor bias = from_vector({1, 2, 3}, {3});
    const Tensor out = exercises::conv2d(image, weight, bias, 1, 0);
    check_close(out, from_vector({9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11}, {1, 3, 2, 2}));
}

TEST_CASE("01 conv2d: padding reads zeros outside the image") {
    // 2x2 image, 3x3 kernel of ones, padding 1: each window covers the whole image.
    const Tensor image = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
    const Tensor out = exercises::conv2d(image, ones({1, 1, 3, 3}), Tensor(), 1, 1);
    check_close(out, from_vector({10, 10, 10, 10}, {1, 1, 2, 2}));
}

TEST_CASE("01 conv2d: stride skips positions and H_out rounds down") {
    // 5x5 image 0..24, 1x1 kernel of weight 2, stride 2: rows and columns 0, 2, 4, doubled.
    const Tensor image = arange(25).reshape({1, 1, 5, 5});
    const Tensor out = exercises::conv2d(image, full({1, 1, 1, 1}, 2.0f), Tensor(), 2, 0);
    check_close(out, from_vector({0, 4, 8, 20, 24, 28, 40, 44, 48}, {1, 1, 3, 3}));
    // 4x4 image, 2x2 kernel, stride 3: H_out = (4 - 2) / 3 + 1 = 1.
    const Tensor small =
        exercises::conv2d(arange(16).reshape({1, 1, 4, 4}), ones({1, 1, 2, 2}), Tensor(), 3, 0);
    check_close(small, from_vector({10}, {1, 1, 1, 1}));
}

TEST_CASE("01 conv2d: agrees with vitlab::conv2d on random inputs") {
    struct Case {
        Shape input, weight;
        int64_t stride, padding;
    };
    const Case cases[] = {
        {{2, 3, 7, 9}, {4, 3, 3, 2}, 2, 1},    // H_out 4, W_out 5: non-square everything
        {{1, 1, 5, 5}, {1, 1, 5, 5}, 1, 0},    // kernel as big as the image: one output
        {{1, 4, 6, 6}, {2, 4, 1, 1}, 1, 0},    // 1x1 kernel: a matrix product at each pixel
        {{3, 2, 8, 8}, {5, 2, 3, 3}, 1, 2},    // padding larger than needed
        {{1, 3, 16, 16}, {6, 3, 4, 4}, 4, 0},  // kernel = stride: the patch embedding
    };
    Generator gen(1);
    for (const Case& c : cases) {
        CAPTURE(to_string(c.input));
        CAPTURE(to_string(c.weight));
        const Tensor input = randn(c.input, gen);
        const Tensor weight = randn(c.weight, gen);
        const Tensor bias = randn({c.weight[0]}, gen);
        check_close(exercises::conv2d(input, weight, bias, c.stride, c.padding),
                    vitlab::conv2d(input, weight, bias, c.stride, c.padding), 1e-4f, 1e-4f);
    }
}

TEST_CASE("01 conv2d: an empty bias means no bias") {
    Generator gen(2);
    const Tensor input = randn({1, 2, 5, 4}, gen);
    const Tensor weight = randn({3, 2, 2, 2}, gen);
    check_close(exercises::conv2d(input, weight, Tensor(), 1, 0),
                vitlab::conv2d(input, weight, zeros({3}), 1, 0), 1e-4f, 1e-4f);
}

TEST_CASE("01 conv2d: reads a non-contiguous input (a transposed view) correctly") {
    // Swapping H and W gives a view whose strides are not row-major; at() handles it,
    // a raw data() pointer walked as if contiguous would not.
    Generator gen(3);
    const Tensor input = randn({1, 2, 6, 5}, gen).transpose(2, 3);  // (1, 2, 5, 6)
    const Tensor weight = randn({2, 2, 3, 3}, gen);
    const Tensor bias = randn({2}, gen);
    check_close(exercises::conv2d(input, weight, bias, 1, 1),
                vitlab::conv2d(input.contiguous(), weight, bias, 1, 1), 1e-4f, 1e-4f);
}

TEST_CASE("01 conv2d: the input, weight and bias are left unchanged") {
    Generator gen(4);
    const auto input = before("input", randn({1, 2, 5, 5}, gen));
    const auto weight = before("weight", randn({3, 2, 3, 3}, gen));
    const auto bias = before("bias", randn({3}, gen));
    exercises::conv2d(input.input, weight.input, bias.input, 1, 1);
    check_unchanged(input);
    check_unchanged(weight);
    check_unchanged(bias);
}

TEST_CASE("01 conv2d: a channel mismatch throws ShapeError naming conv2d") {
    const Tensor input = zeros({1, 3, 8, 8});
    const Tensor weight = zeros({4, 2, 3, 3});  // expects C_in = 2
    CHECK_THROWS_WITH_AS(exercises::conv2d(input, weight, Tensor(), 1, 0),
                         doctest::Contains("conv2d"), ShapeError);
}
