// test_nn_linear.cpp: Linear, y = x @ W^T + b over the last dim.
#include <doctest/doctest.h>

#include "nn/linear.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

// The parameters of one fixture case, without the "<case>." prefix and without in/out/probs.
static TensorMap case_params(const testing::Fixture& f, const std::string& name) {
    TensorMap out;
    const std::string prefix = name + ".";
    for (const auto& [key, t] : f.all()) {
        if (key.rfind(prefix, 0) != 0) continue;
        const std::string rest = key.substr(prefix.size());
        if (rest != "in" && rest != "out" && rest != "probs") out[rest] = t;
    }
    return out;
}

TEST_CASE("Linear: computes x @ W^T + b on a hand-checked example") {
    Generator gen(0);
    nn::Linear fc(2, 3, true, gen);
    fc.weight.copy_(from_vector({1, 2, 3, 4, 5, 6}, {3, 2}));  // (out 3, in 2)
    fc.bias.copy_(from_vector({0.5f, -1, 0}, {3}));
    // [1, -1] @ [[1, 3, 5], [2, 4, 6]] = [-1, -1, -1], plus bias
    Tensor y = fc(from_vector({1, -1}, {1, 2}));
    CHECK(y.shape() == Shape{1, 3});
    CHECK(y.to_vector() == std::vector<float>{-0.5f, -2.0f, -1.0f});
}

TEST_CASE("Linear: keeps leading dims, accepts 1-d input, works without bias") {
    Generator gen(1);
    nn::Linear fc(5, 7, true, gen);
    Tensor x = randn({2, 3, 5}, gen);
    Tensor y = fc(x);
    CHECK(y.shape() == Shape{2, 3, 7});
    // Row (1, 2) alone gives the same numbers as inside the batch.
    check_close(fc(x.select(0, 1).select(0, 2)), y.select(0, 1).select(0, 2), 1e-6f);
    CHECK(fc(x.select(0, 1).select(0, 2)).shape() == Shape{7});

    nn::Linear no_bias(5, 7, false, gen);
    CHECK(no_bias.bias.numel() == 0);
    check_close(no_bias(x), matmul(x, no_bias.weight.transpose(0, 1)), 1e-6f);
}

TEST_CASE("Linear: a non-contiguous input gives the same result as its contiguous copy") {
    Generator gen(2);
    nn::Linear fc(17, 9, true, gen);
    Tensor base = randn({17, 4, 3}, gen);
    Tensor x = base.permute({2, 1, 0});  // (3, 4, 17), strided
    REQUIRE_FALSE(x.is_contiguous());
    check_close(fc(x), fc(x.contiguous()), 1e-6f);
}

TEST_CASE("Linear: matches torch.nn.Linear") {
    auto f = fixture("nn_layers");
    Generator gen(0);
    nn::Linear fc(5, 7, true, gen);
    fc.load_state_dict(case_params(f, "linear"));
    check_close(fc(f["linear.in"]), f["linear.out"], 1e-5f, 1e-5f);
}

TEST_CASE("Linear: a wrong last dim names the layer and the expected shape") {
    Generator gen(0);
    nn::Linear fc(5, 7, true, gen);
    CHECK_THROWS_WITH_AS(fc(zeros({2, 3, 4})),
                         "Linear(5, 7): expected input of shape (2, 3, 5), got (2, 3, 4)",
                         ShapeError);
    CHECK_THROWS_AS(nn::Linear(0, 3, true, gen), std::invalid_argument);
}
