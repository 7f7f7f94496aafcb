// test_nn_attention.cpp: multi-head self-attention against torch.nn.MultiheadAttention.
#include <doctest/doctest.h>

#include "nn/attention.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("Attention: matches torch.nn.MultiheadAttention, output and per-head probabilities") {
    auto f = fixture("nn_layers");
    Generator gen(0);
    nn::Attention attn(16, 4, true, gen);
    attn.load_state_dict({{"qkv.weight", f["attention.qkv.weight"]},
                          {"qkv.bias", f["attention.qkv.bias"]},
                          {"proj.weight", f["attention.proj.weight"]},
                          {"proj.bias", f["attention.proj.bias"]}});
    Tensor probs;
    Tensor y = attn(f["attention.in"], &probs);
    check_close(y, f["attention.out"], 1e-5f, 1e-5f);
    check_close(probs, f["attention.probs"], 1e-6f, 1e-5f);
}

TEST_CASE("Attention: probabilities are (B, heads, N, N) and every row sums to 1") {
    Generator gen(1);
    nn::Attention attn(12, 3, true, gen);
    CHECK(attn.head_dim == 4);
    CHECK(attn.scale == doctest::Approx(0.5f));
    Tensor probs;
    Tensor y = attn(randn({2, 7, 12}, gen), &probs);
    CHECK(y.shape() == Shape{2, 7, 12});
    REQUIRE(probs.shape() == Shape{2, 3, 7, 7});
    check_close(sum(probs, -1), ones({2, 3, 7}), 1e-5f);
}

TEST_CASE("Attention: with equal scores every token gets the mean of the values") {
    Generator gen(2);
    nn::Attention attn(4, 2, true, gen);
    // q = k = 0 for every token, so all scores are equal and softmax is uniform: out = mean(v).
    attn.qkv.weight.narrow(0, 0, 8).fill_(0.0f);
    attn.qkv.bias.narrow(0, 0, 8).fill_(0.0f);
    attn.proj.weight.copy_(from_vector({1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, {4, 4}));
    attn.proj.bias.fill_(0.0f);
    Tensor x = randn({1, 5, 4}, gen);
    Tensor v = matmul(x, attn.qkv.weight.narrow(0, 8, 4).transpose(0, 1)) +
               attn.qkv.bias.narrow(0, 8, 4);  // (1, 5, 4)
    Tensor expected = mean(v, 1, true).expand({1, 5, 4});
    Tensor probs;
    check_close(attn(x, &probs), expected, 1e-5f);
    check_close(probs, full({1, 2, 5, 5}, 0.2f), 1e-6f);
}

TEST_CASE("Attention: swapping two tokens swaps their outputs; batch items stay independent") {
    Generator gen(3);
    nn::Attention attn(8, 2, true, gen);
    Tensor x = randn({2, 6, 8}, gen);
    Tensor y = attn(x);
    Tensor swapped = x.clone();
    swapped.select(1, 0).copy_(x.select(1, 4));
    swapped.select(1, 4).copy_(x.select(1, 0));
    Tensor ys = attn(swapped);
    check_close(ys.select(1, 0), y.select(1, 4), 1e-5f);
    check_close(ys.select(1, 4), y.select(1, 0), 1e-5f);
    check_close(ys.select(1, 2), y.select(1, 2), 1e-5f);
    check_close(attn(x.narrow(0, 1, 1)), y.narrow(0, 1, 1), 1e-5f);
}

TEST_CASE("Attention: bad sizes are errors naming the expected shape") {
    Generator gen(0);
    CHECK_THROWS_WITH_AS(nn::Attention(10, 4, true, gen), doctest::Contains("num_heads"),
                         std::invalid_argument);
    nn::Attention attn(8, 2, true, gen);
    CHECK_THROWS_WITH_AS(attn(zeros({1, 5, 6})),
                         "Attention(dim 8): expected input of shape (B, N, 8), got (1, 5, 6)",
                         ShapeError);
    CHECK_THROWS_AS(attn(zeros({5, 8})), ShapeError);
}
