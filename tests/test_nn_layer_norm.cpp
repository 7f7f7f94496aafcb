// test_nn_layer_norm.cpp: LayerNorm over the last dim, eps 1e-6 by default.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/layer_norm.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("LayerNorm: normalises each row, then scales and shifts (hand-checked)") {
    nn::LayerNorm norm(4);
    CHECK(norm.eps == 1e-6f);
    // [1, 2, 3, 4]: mean 2.5, biased var 1.25
    Tensor y = norm(from_vector({1, 2, 3, 4}, {1, 4}));
    const float s = 1.0f / std::sqrt(1.25f + 1e-6f);
    check_close(y, from_vector({-1.5f * s, -0.5f * s, 0.5f * s, 1.5f * s}, {1, 4}), 1e-6f);

    norm.weight.copy_(from_vector({2, 2, 2, 2}, {4}));
    norm.bias.copy_(from_vector({1, 0, 0, 0}, {4}));
    y = norm(from_vector({1, 2, 3, 4}, {4}));
    check_close(y, from_vector({-3 * s + 1, -s, s, 3 * s}, {4}), 1e-6f);
}

TEST_CASE("LayerNorm: eps is 1e-6 by default, which shows on rows with a tiny variance") {
    // [0, 0.001]: mean 0.0005, var 2.5e-7; out = +-0.0005 / sqrt(2.5e-7 + eps)
    Tensor x = from_vector({0.0f, 0.001f}, {2});
    check_close(nn::LayerNorm(2)(x), from_vector({-0.447214f, 0.447214f}, {2}), 1e-4f);
    check_close(nn::LayerNorm(2, 1e-5f)(x), from_vector({-0.156174f, 0.156174f}, {2}), 1e-4f);
}

TEST_CASE("LayerNorm: matches torch.nn.LayerNorm(16, eps=1e-6)") {
    auto f = fixture("nn_layers");
    nn::LayerNorm norm(16);
    norm.load_state_dict({{"weight", f["layer_norm.weight"]}, {"bias", f["layer_norm.bias"]}});
    check_close(norm(f["layer_norm.in"]), f["layer_norm.out"], 1e-5f, 1e-5f);
}

TEST_CASE("LayerNorm: a wrong last dim names the expected shape") {
    nn::LayerNorm norm(768);
    CHECK_THROWS_WITH_AS(norm(zeros({1, 577, 512})),
                         "LayerNorm(768): expected input of shape (1, 577, 768), got (1, 577, 512)",
                         ShapeError);
}
