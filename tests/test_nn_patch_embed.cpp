// test_nn_patch_embed.cpp: image -> (B, N, C) tokens.
#include <doctest/doctest.h>

#include "nn/patch_embed.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("PatchEmbed: the notebook's shapes, (1, 3, 384, 384) -> (1, 576, 768)") {
    Generator gen(0);
    nn::PatchEmbed embed(384, 16, 3, 768, gen);
    CHECK(embed.grid_size == 24);
    CHECK(embed.num_patches == 576);
    CHECK(embed.proj.weight.shape() == Shape{768, 3, 16, 16});
    CHECK(embed(zeros({1, 3, 384, 384})).shape() == Shape{1, 576, 768});
}

TEST_CASE("PatchEmbed: token n is the patch at row n / G, column n % G") {
    Generator gen(1);
    nn::PatchEmbed embed(8, 4, 1, 2, gen);  // 2 x 2 patches of 4 x 4
    embed.proj.weight.fill_(1.0f);          // every output channel sums its patch
    embed.proj.bias.fill_(0.0f);
    Tensor image = zeros({1, 1, 8, 8});
    image.narrow(2, 4, 4).narrow(3, 0, 4).fill_(1.0f);  // bottom-left patch: row 1, column 0
    Tensor tokens = embed(image);                       // (1, 4, 2)
    CHECK(tokens.shape() == Shape{1, 4, 2});
    check_close(tokens, from_vector({0, 0, 0, 0, 16, 16, 0, 0}, {1, 4, 2}), 1e-6f);
}

TEST_CASE("PatchEmbed: matches torch Conv2d(3, 16, 4, stride=4) + flatten(2).transpose(1, 2)") {
    auto f = fixture("nn_layers");
    Generator gen(0);
    nn::PatchEmbed embed(8, 4, 3, 16, gen);
    embed.load_state_dict(
        {{"proj.weight", f["patch_embed.proj.weight"]}, {"proj.bias", f["patch_embed.proj.bias"]}});
    check_close(embed(f["patch_embed.in"]), f["patch_embed.out"], 1e-5f, 1e-5f);
}

TEST_CASE("PatchEmbed: a wrong image size or channel count names the expected shape") {
    Generator gen(0);
    nn::PatchEmbed embed(32, 8, 3, 16, gen);
    CHECK_THROWS_WITH_AS(embed(zeros({1, 3, 24, 32})),
                         "PatchEmbed: expected images of shape (B, 3, 32, 32), got (1, 3, 24, 32)",
                         ShapeError);
    CHECK_THROWS_WITH_AS(embed(zeros({2, 1, 32, 32})), doctest::Contains("(B, 3, 32, 32)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(embed(zeros({3, 32, 32})), doctest::Contains("got (3, 32, 32)"),
                         ShapeError);
    CHECK_THROWS_AS(nn::PatchEmbed(30, 8, 3, 16, gen), std::invalid_argument);
}
