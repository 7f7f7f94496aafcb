// test_nn_conv2d.cpp: the Conv2d layer (the arithmetic itself is tested in test_conv2d.cpp).
#include <doctest/doctest.h>

#include "nn/conv2d.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;

TEST_CASE("Conv2d: a 2x2 kernel with stride 2 sums each patch (hand-checked)") {
    Generator gen(0);
    nn::Conv2d conv(1, 1, 2, 2, 0, true, gen);
    conv.weight.fill_(1.0f);
    conv.bias.fill_(0.5f);
    Tensor x = arange(16).view({1, 1, 4, 4});
    // patches: {0,1,4,5}=10, {2,3,6,7}=18, {8,9,12,13}=42, {10,11,14,15}=50
    check_close(conv(x), from_vector({10.5f, 18.5f, 42.5f, 50.5f}, {1, 1, 2, 2}), 1e-6f);
}

TEST_CASE("Conv2d: stride and padding give PyTorch's output size") {
    Generator gen(1);
    nn::Conv2d conv(3, 5, 3, 2, 1, true, gen);
    // H_out = (7 + 2 - 3) / 2 + 1 = 4
    CHECK(conv(randn({2, 3, 7, 7}, gen)).shape() == Shape{2, 5, 4, 4});
    nn::Conv2d no_bias(3, 5, 3, 1, 0, false, gen);
    CHECK(no_bias.named_parameters().size() == 1);
    CHECK(no_bias(randn({1, 3, 5, 5}, gen)).shape() == Shape{1, 5, 3, 3});
}

TEST_CASE("Conv2d: a wrong channel count names the expected shape") {
    Generator gen(0);
    nn::Conv2d conv(3, 8, 4, 4, 0, true, gen);
    CHECK_THROWS_WITH_AS(conv(zeros({1, 4, 8, 8})),
                         "Conv2d(3, 8): expected input of shape (B, 3, H, W), got (1, 4, 8, 8)",
                         ShapeError);
    CHECK_THROWS_AS(conv(zeros({3, 8, 8})), ShapeError);
}
