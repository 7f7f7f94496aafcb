// test_nn_module.cpp: Module's registry: names, shared storage, load_state_dict, ModuleList, init.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/nn.h"
#include "tensor/ops.h"

using namespace vitlab;

TEST_CASE("Module: named_parameters gives timm's dotted names, own parameters before children's") {
    Generator gen(0);
    nn::Block block(8, 2, 16, 1e-6f, true, gen);
    std::vector<std::string> names;
    for (const auto& [name, t] : block.named_parameters()) names.push_back(name);
    const std::vector<std::string> expected = {
        "norm1.weight",     "norm1.bias",     "attn.qkv.weight", "attn.qkv.bias",
        "attn.proj.weight", "attn.proj.bias", "norm2.weight",    "norm2.bias",
        "mlp.fc1.weight",   "mlp.fc1.bias",   "mlp.fc2.weight",  "mlp.fc2.bias"};
    CHECK(names == expected);
    CHECK(block.parameter("attn.qkv.weight").shape() == Shape{24, 8});
    CHECK(block.parameter("mlp.fc1.weight").shape() == Shape{16, 8});
}

TEST_CASE("Module: num_parameters counts every scalar of every parameter") {
    Generator gen(0);
    CHECK(nn::Linear(5, 7, true, gen).num_parameters() == 5 * 7 + 7);
    CHECK(nn::Linear(5, 7, false, gen).num_parameters() == 5 * 7);
    CHECK(nn::LayerNorm(10).num_parameters() == 20);
    CHECK(nn::Conv2d(3, 4, 2, 2, 0, true, gen).num_parameters() == 4 * 3 * 2 * 2 + 4);
    // Block(8, heads 2, mlp 16): 16 + (24*8 + 24) + (8*8 + 8) + 16 + (16*8 + 16) + (8*16 + 8) = 600
    CHECK(nn::Block(8, 2, 16, 1e-6f, true, gen).num_parameters() == 600);
}

TEST_CASE("Module: tensors from named_parameters share storage, so copy_ writes into the layer") {
    Generator gen(1);
    nn::Linear fc(3, 2, true, gen);
    auto params = fc.named_parameters();
    REQUIRE(params[0].first == "weight");
    params[0].second.copy_(full({2, 3}, 0.5f));
    CHECK(fc.weight.at({1, 2}) == 0.5f);
    fc.state_dict().at("bias").fill_(-1.0f);
    CHECK(fc.bias.at({0}) == -1.0f);
}

TEST_CASE("Module: parameter() throws naming an unknown parameter") {
    nn::LayerNorm norm(4);
    CHECK_THROWS_WITH_AS(norm.parameter("weigth"), doctest::Contains("'weigth'"),
                         std::out_of_range);
}

TEST_CASE("load_state_dict: copies every tensor by name into the model") {
    Generator g1(1), g2(2);
    nn::Block a(8, 2, 16, 1e-6f, true, g1), b(8, 2, 16, 1e-6f, true, g2);
    REQUIRE(max_abs_diff(a.attn.qkv.weight, b.attn.qkv.weight) > 0.0f);
    auto result = b.load_state_dict(a.state_dict());
    CHECK(result.missing_keys.empty());
    CHECK(result.unexpected_keys.empty());
    for (const auto& named : a.named_parameters())  // (clang 14 cannot capture [name, t])
        CHECK_MESSAGE(max_abs_diff(named.second, b.parameter(named.first)) == 0.0f, named.first);
    // A copy, not an alias: changing a afterwards leaves b alone.
    a.attn.qkv.weight.fill_(3.0f);
    CHECK(b.attn.qkv.weight.at({0, 0}) != 3.0f);
}

TEST_CASE("load_state_dict: strict mode names missing and unexpected keys and changes nothing") {
    Generator gen(0);
    nn::Mlp mlp(4, 8, gen);
    const Tensor before = mlp.fc1.weight.clone();
    TensorMap state = mlp.state_dict();
    state["fc1.weight"] = zeros({8, 4});
    state.erase("fc2.bias");
    state["fc3.weight"] = zeros({4, 4});
    CHECK_THROWS_WITH_AS(mlp.load_state_dict(state),
                         doctest::Contains("missing keys (1): fc2.bias; unexpected keys (1): "
                                           "fc3.weight"),
                         nn::StateDictError);
    CHECK(max_abs_diff(mlp.fc1.weight, before) == 0.0f);
}

TEST_CASE("load_state_dict: non-strict mode returns the mismatched keys and loads the rest") {
    Generator gen(0);
    nn::Mlp mlp(4, 8, gen);
    TensorMap state = {{"fc1.weight", full({8, 4}, 2.0f)}, {"extra", zeros({1})}};
    auto result = mlp.load_state_dict(state, /*strict=*/false);
    CHECK(result.missing_keys == std::vector<std::string>{"fc1.bias", "fc2.weight", "fc2.bias"});
    CHECK(result.unexpected_keys == std::vector<std::string>{"extra"});
    CHECK(mlp.fc1.weight.at({7, 3}) == 2.0f);
}

TEST_CASE("load_state_dict: a shape mismatch names the tensor and both shapes, even non-strict") {
    Generator gen(0);
    nn::Linear fc(64, 1000, true, gen);
    TensorMap state = {{"weight", zeros({10, 64})}, {"bias", zeros({1000})}};
    CHECK_THROWS_WITH_AS(fc.load_state_dict(state, false),
                         "load_state_dict: size mismatch for weight: the state dict has (10, 64), "
                         "the model expects (1000, 64)",
                         ShapeError);
}

TEST_CASE("ModuleList: children are named 0, 1, 2 and iterate in order") {
    Generator gen(0);
    nn::ModuleList<nn::Linear> layers;
    for (int i = 1; i <= 3; ++i) layers.emplace_back(i, i + 1, true, gen);
    REQUIRE(layers.size() == 3);
    CHECK(layers[2].in_features == 3);
    auto params = layers.named_parameters();
    REQUIRE(params.size() == 6);
    CHECK(params[0].first == "0.weight");
    CHECK(params[5].first == "2.bias");
    int64_t expected_in = 1;
    for (const auto& layer : layers) CHECK(layer.in_features == expected_in++);
}

TEST_CASE("init: manual_seed makes layers built without a generator reproducible") {
    nn::manual_seed(42);
    nn::Linear a(6, 5);
    nn::Linear b(6, 5);  // draws further numbers: different weights
    nn::manual_seed(42);
    nn::Linear c(6, 5);
    CHECK(max_abs_diff(a.weight, c.weight) == 0.0f);
    CHECK(max_abs_diff(a.weight, b.weight) > 0.0f);
}

TEST_CASE("init: trunc_normal_ stays within [a, b] and has about the requested spread") {
    Generator gen(5);
    Tensor t({20000});
    nn::trunc_normal_(t, gen, 0.0f, 1.0f, -0.5f, 0.5f);
    const auto v = t.to_vector();
    double sum = 0, sq = 0;
    for (float x : v) {
        REQUIRE(x >= -0.5f);
        REQUIRE(x <= 0.5f);
        sum += x, sq += double(x) * x;
    }
    // N(0, 1) cut to [-0.5, 0.5]: mean 0, std 0.2828 (variance 1 - 2*0.5*phi(0.5)/(2*Phi(0.5)-1)).
    CHECK(std::abs(sum / v.size()) < 0.01);
    CHECK(std::sqrt(sq / v.size()) == doctest::Approx(0.2828).epsilon(0.02));
}

TEST_CASE(
    "init: Linear as timm (weights std 0.02, zero bias), Conv2d as PyTorch (+-1/sqrt(fan_in))") {
    Generator gen(9);
    nn::Linear fc(256, 128, true, gen);
    const auto w = fc.weight.to_vector();
    double sq = 0;
    for (float x : w) sq += double(x) * x;
    CHECK(std::sqrt(sq / w.size()) == doctest::Approx(0.02).epsilon(0.03));
    CHECK(max_abs_diff(fc.bias, zeros({128})) == 0.0f);

    nn::Conv2d conv(4, 8, 3, 1, 0, true, gen);  // fan_in 36: bound 1/6
    float largest = 0;
    for (float x : conv.weight.to_vector()) largest = std::max(largest, std::abs(x));
    CHECK(largest <= 1.0f / 6.0f);
    CHECK(largest > 0.15f);
    nn::LayerNorm norm(3);
    CHECK(norm.weight.to_vector() == std::vector<float>{1, 1, 1});
    CHECK(norm.bias.to_vector() == std::vector<float>{0, 0, 0});
}

TEST_CASE("init: xavier_uniform_ fills +-sqrt(6 / (fan_in + fan_out)), evenly, and wants 2-d") {
    Generator gen(3);
    Tensor w({192, 64});  // bound sqrt(6 / 256) = 0.1531
    nn::xavier_uniform_(w, gen);
    const auto v = w.to_vector();
    const double bound = std::sqrt(6.0 / 256.0);
    double sq = 0, largest = 0;
    for (float x : v) sq += double(x) * x, largest = std::max(largest, std::abs(double(x)));
    CHECK(largest <= bound);
    CHECK(largest > 0.98 * bound);
    CHECK(std::sqrt(sq / v.size()) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
    Tensor t({4, 4, 4});
    CHECK_THROWS_AS(nn::xavier_uniform_(t, gen), ShapeError);
}
