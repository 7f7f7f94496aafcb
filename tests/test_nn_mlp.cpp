// test_nn_mlp.cpp: fc1 -> GELU -> fc2.
#include <doctest/doctest.h>

#include "nn/mlp.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("GELU layer: the exact erf form") {
    nn::GELU act;
    // gelu(1) = 0.5 * (1 + erf(1/sqrt 2)) = 0.841345; gelu(-1) = -0.158655
    check_close(act(from_vector({-1, 0, 1}, {3})), from_vector({-0.158655f, 0, 0.841345f}, {3}),
                1e-6f);
}

TEST_CASE("Mlp: (B, N, C) -> (B, N, hidden) -> (B, N, C), and matches PyTorch") {
    auto f = fixture("nn_layers");
    Generator gen(0);
    nn::Mlp mlp(16, 32, gen);
    CHECK(mlp.fc1.weight.shape() == Shape{32, 16});
    CHECK(mlp.fc2.weight.shape() == Shape{16, 32});
    TensorMap state;
    for (const char* name : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"})
        state[name] = f[std::string("mlp.") + name];
    mlp.load_state_dict(state);
    check_close(mlp(f["mlp.in"]), f["mlp.out"], 1e-5f, 1e-5f);
}

TEST_CASE("Mlp: a wrong input size names the first layer's expected shape") {
    Generator gen(0);
    nn::Mlp mlp(16, 32, gen);
    CHECK_THROWS_WITH_AS(mlp(zeros({2, 5, 8})), doctest::Contains("Linear(16, 32)"), ShapeError);
}
