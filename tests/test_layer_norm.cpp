// test_layer_norm.cpp: LayerNorm over the last dim (tensor/ops/layer_norm.h).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("layer_norm: [1, 2, 3, 4] by hand") {
    // mean 2.5, var (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, so out = (x - 2.5) / sqrt(1.25).
    const Tensor x = from_vector({1, 2, 3, 4}, {4});
    check_close(layer_norm(x, ones({4}), zeros({4}), 0.0f),
                from_vector({-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f}, {4}), 1e-6f, 1e-6f);
    // Then times weight, plus bias, feature by feature.
    check_close(
        layer_norm(x, from_vector({1, 2, 1, 1}, {4}), from_vector({0, 0, 1, -1}, {4}), 0.0f),
        from_vector({-1.3416408f, -0.8944272f, 1.4472136f, 0.3416408f}, {4}), 1e-6f, 1e-6f);
    // The default eps = 1e-5 sits inside the square root.
    const float s = 1.0f / std::sqrt(1.25f + 1e-5f);
    check_close(layer_norm(x, ones({4}), zeros({4})),
                from_vector({-1.5f * s, -0.5f * s, 0.5f * s, 1.5f * s}, {4}), 1e-6f, 1e-6f);
}

TEST_CASE("layer_norm: every row comes out with mean 0 and variance 1") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(1);
        const Tensor x = randn({3, 7, 65}, gen) * 4.0f + 2.0f;
        const Tensor out = layer_norm(x, ones({65}), zeros({65}), 0.0f);
        CHECK(out.shape() == x.shape());
        for (int64_t i = 0; i < 3; ++i)
            for (int64_t j = 0; j < 7; ++j) {
                double sum = 0.0, sq = 0.0;
                for (int64_t c = 0; c < 65; ++c) sum += out.at({i, j, c});
                for (int64_t c = 0; c < 65; ++c) sq += out.at({i, j, c}) * out.at({i, j, c});
                CHECK(sum / 65 == doctest::Approx(0.0).epsilon(1e-5).scale(1.0));
                CHECK(sq / 65 == doctest::Approx(1.0).epsilon(1e-5));
            }
    }
}

TEST_CASE("layer_norm: a constant row, or a last dim of size 1, gives the bias") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // x - mean is exactly 0, and eps keeps 1 / sqrt(var + eps) finite.
        const Tensor b = from_vector({0.5f, -1, 2}, {3});
        check_close(layer_norm(full({2, 3}, 7.0f), ones({3}), b), b.expand({2, 3}), 0.0f, 0.0f);
        Generator gen(2);
        const Tensor x = randn({4, 1}, gen);
        check_close(layer_norm(x, full({1}, 3.0f), full({1}, 0.25f)), full({4, 1}, 0.25f), 0.0f,
                    0.0f);
    }
}

TEST_CASE("layer_norm: a mean far from zero costs no precision (two-pass variance)") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // In float, E[x^2] - E[x]^2 for x near 1e4 would lose the spread of 1..4 entirely.
        const Tensor near = layer_norm(from_vector({1, 2, 3, 4}, {4}), ones({4}), zeros({4}));
        const Tensor far =
            layer_norm(from_vector({10001, 10002, 10003, 10004}, {4}), ones({4}), zeros({4}));
        check_close(far, near, 1e-6f, 1e-6f);
    }
}

TEST_CASE("layer_norm: eps matters when the variance is tiny") {
    // x = [0, 1e-3]: var = 2.5e-7, out = +-5e-4 / sqrt(2.5e-7 + eps).
    const Tensor x = from_vector({0, 1e-3f}, {2});
    check_close(layer_norm(x, ones({2}), zeros({2}), 0.0f), from_vector({-1, 1}, {2}), 1e-4f,
                1e-4f);
    check_close(layer_norm(x, ones({2}), zeros({2}), 1e-5f),
                from_vector({-0.15617378f, 0.15617377f}, {2}), 1e-6f, 1e-5f);
}

TEST_CASE("layer_norm: transposed and sliced inputs, weight and bias read like their copies") {
    Generator gen(3);
    const Tensor x = randn({65, 17}, gen).transpose(0, 1);   // (17, 65), last dim stride 17
    const Tensor w = randn({130}, gen).slice(0, 0, 130, 2);  // (65), stride 2
    const Tensor b = randn({65, 2}, gen).select(1, 1);       // (65), stride 2
    REQUIRE_FALSE(x.is_contiguous());
    check_close(layer_norm(x, w, b, 1e-5f), layer_norm(x.clone(), w.clone(), b.clone(), 1e-5f),
                0.0f, 0.0f);
    // A batch of rows normalised together equals each row on its own (also when threaded).
    const Tensor big = randn({577, 96}, gen);
    const Tensor wb = randn({96}, gen), bb = randn({96}, gen);
    const Tensor out = layer_norm(big, wb, bb);
    for (int64_t r : {0, 1, 288, 576})
        check_close(out.select(0, r), layer_norm(big.select(0, r), wb, bb), 0.0f, 0.0f);
}

TEST_CASE("layer_norm: empty inputs give empty outputs") {
    CHECK(layer_norm(zeros({0, 4}), ones({4}), zeros({4})).shape() == Shape{0, 4});
    CHECK(layer_norm(zeros({3, 0}), zeros({0}), zeros({0})).shape() == Shape{3, 0});
}

TEST_CASE("layer_norm: weight or bias of the wrong size throws ShapeError with the shapes") {
    const Tensor x = zeros({2, 4});
    CHECK_THROWS_WITH_AS(layer_norm(x, ones({5}), zeros({4})),
                         doctest::Contains("layer_norm: weight (5,) does not match x (2, 4): "
                                           "expected (4,)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(layer_norm(x, ones({4}), zeros({1, 4})),
                         doctest::Contains("layer_norm: bias (1, 4) does not match x (2, 4): "
                                           "expected (4,)"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(layer_norm(full({}, 1.0f), ones({1}), zeros({1})),
                         doctest::Contains("layer_norm: expected x of shape (..., C), got a 0-d"),
                         ShapeError);
}

TEST_CASE("layer_norm: matches F.layer_norm with random weight, bias and eps") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        const auto f = fixture("layer_norm");
        for (const char* name : {"basic", "small_var", "shifted", "one_feature"}) {
            const std::string c = name;
            CAPTURE(c);
            check_close(
                layer_norm(f[c + ".x"], f[c + ".weight"], f[c + ".bias"], f[c + ".eps"].item()),
                f[c + ".out"], 1e-5f, 1e-5f);
        }
    }
}

TEST_CASE("layer_norm: blocked matches naive for C = 1, 3, 7, 17, 63, 64, 65, 577, 768") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(4);
        for (int64_t C : {1, 3, 7, 17, 63, 64, 65, 577, 768}) {
            CAPTURE(C);
            const Tensor w = randn({C}, gen), b = randn({C}, gen);
            // A spread of 3 around a mean of 50: the float sums must not lose the spread.
            const Tensor x = randn({5, C}, gen) * 3.0f + 50.0f;
            check_close(layer_norm_blocked(x, w, b), layer_norm_naive(x, w, b), 1e-5f, 1e-5f);
            check_close(layer_norm_blocked(x.transpose(0, 1).contiguous().transpose(0, 1), w, b),
                        layer_norm_naive(x, w, b), 1e-5f, 1e-5f);
        }
        // Many rows: split across threads.
        const Tensor x = randn({577, 768}, gen), w = randn({768}, gen), b = randn({768}, gen);
        check_close(layer_norm_blocked(x, w, b), layer_norm_naive(x, w, b), 1e-5f, 1e-5f);
    }
}

TEST_CASE("layer_norm: blocked keeps the spread when the mean is 1e4 times larger") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // Float lanes summing x ~ 1e4 +- 1: the corrected two-pass formula recovers the variance.
        Generator gen(5);
        const Tensor x = randn({4, 768}, gen) + 10000.0f;
        const Tensor w = ones({768}), b = zeros({768});
        check_close(layer_norm_blocked(x, w, b), layer_norm_naive(x, w, b), 1e-5f, 1e-5f);
        const Tensor out = layer_norm_blocked(x, w, b);
        double sq = 0.0;
        for (int64_t c = 0; c < 768; ++c) sq += out.at({0, c}) * out.at({0, c});
        CHECK(sq / 768 == doctest::Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("layer_norm: Kernel::Default follows the process-wide kernel") {
    Generator gen(6);
    const Tensor x = randn({6, 100}, gen) * 2.0f + 1.0f;
    const Tensor w = randn({100}, gen), b = randn({100}, gen);
    const Tensor naive = layer_norm_naive(x, w, b), blocked = layer_norm_blocked(x, w, b);
    CHECK(max_abs_diff(naive, blocked) > 0.0f);  // else this test could not tell them apart
    set_default_kernel(Kernel::Naive);
    check_close(layer_norm(x, w, b), naive, 0.0f, 0.0f);
    set_default_kernel(Kernel::Blocked);
    check_close(layer_norm(x, w, b), blocked, 0.0f, 0.0f);
    check_close(layer_norm(x, w, b, 1e-5f, Kernel::Naive), naive, 0.0f, 0.0f);
}

TEST_CASE("layer_norm: a row's result does not depend on the rows around it") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // The blocked kernel normalises rows two at a time; each row must still get exactly the
        // bits it gets alone (and so with any thread count).
        Generator gen(31);
        for (int64_t C : {5, 8, 17, 768}) {
            CAPTURE(C);
            const Tensor x = randn({7, C}, gen) * 3.0f + 1.0f;
            const Tensor w = randn({C}, gen), b = randn({C}, gen);
            const Tensor all = layer_norm_blocked(x, w, b, 1e-6f);
            for (int64_t r = 0; r < 7; ++r) {
                const Tensor alone = layer_norm_blocked(x.narrow(0, r, 1), w, b, 1e-6f);
                CHECK(max_abs_diff(all.narrow(0, r, 1), alone) == 0.0f);
            }
            const Tensor odd_start = layer_norm_blocked(x.narrow(0, 1, 6), w, b, 1e-6f);
            CHECK(max_abs_diff(all.narrow(0, 1, 6), odd_start) == 0.0f);
        }
    }
}
