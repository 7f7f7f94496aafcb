// test_nn_block.cpp: the pre-norm encoder block against torchvision's EncoderBlock.
#include <doctest/doctest.h>

#include "nn/block.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("Block: matches torchvision's EncoderBlock renamed to timm's names") {
    auto f = fixture("nn_layers");
    Generator gen(0);
    nn::Block block(16, 4, 32, 1e-6f, true, gen);
    TensorMap state;
    for (const auto& [name, t] : block.named_parameters()) state[name] = f["block." + name];
    block.load_state_dict(state);
    check_close(block(f["block.in"]), f["block.out"], 1e-5f, 1e-5f);
}

TEST_CASE("Block: keeps the shape, leaves its input alone, returns attention probabilities") {
    Generator gen(1);
    nn::Block block(12, 3, 48, 1e-6f, true, gen);
    Tensor x = randn({2, 9, 12}, gen);
    const Tensor before = x.clone();
    Tensor probs;
    Tensor y = block(x, &probs);
    CHECK(y.shape() == Shape{2, 9, 12});
    CHECK(probs.shape() == Shape{2, 3, 9, 9});
    CHECK(max_abs_diff(x, before) == 0.0f);
    CHECK(max_abs_diff(y, x) > 0.0f);
}

TEST_CASE("Block: with zero output projections it is the identity (the residual path)") {
    Generator gen(2);
    nn::Block block(8, 2, 32, 1e-6f, true, gen);
    block.attn.proj.weight.fill_(0.0f);
    block.mlp.fc2.weight.fill_(0.0f);  // biases start at zero
    Tensor x = randn({1, 4, 8}, gen);
    check_close(block(x), x, 0.0f, 0.0f);
}
