// test_reduce.cpp: sum, mean, max, argmax over one dim (tensor/ops/reduce.h).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// [[1, 5, 3],
//  [4, 2, 6]]
Tensor two_by_three() {
    return from_vector({1, 5, 3, 4, 2, 6}, {2, 3});
}

}  // namespace

TEST_CASE("sum: adds along a dim and removes it") {
    const Tensor x = two_by_three();
    CHECK(sum(x, 0).shape() == Shape{3});
    CHECK(sum(x, 0).to_vector() == std::vector<float>{5, 7, 9});
    CHECK(sum(x, 1).to_vector() == std::vector<float>{9, 12});
    CHECK(sum(x, -1).to_vector() == std::vector<float>{9, 12});
    CHECK(x.sum(1).to_vector() == std::vector<float>{9, 12});
}

TEST_CASE("mean: divides the sum by the size of the dim") {
    const Tensor x = two_by_three();
    CHECK(mean(x, 0).to_vector() == std::vector<float>{2.5f, 3.5f, 4.5f});
    CHECK(mean(x, 1).to_vector() == std::vector<float>{3, 4});
    CHECK(x.mean(-2).to_vector() == std::vector<float>{2.5f, 3.5f, 4.5f});
}

TEST_CASE("max and argmax: the largest value and its position") {
    const Tensor x = two_by_three();
    CHECK(max(x, 1).to_vector() == std::vector<float>{5, 6});
    CHECK(argmax(x, 1).to_vector() == std::vector<int64_t>{1, 2});
    CHECK(max(x, 0).to_vector() == std::vector<float>{4, 5, 6});
    CHECK(argmax(x, 0).to_vector() == std::vector<int64_t>{1, 0, 1});
    CHECK(x.max(-1).to_vector() == std::vector<float>{5, 6});
    CHECK(x.argmax(-1).to_vector() == std::vector<int64_t>{1, 2});
}

TEST_CASE("max and argmax: negative numbers only (the start value must not be 0)") {
    const Tensor x = from_vector({-3, -1, -2}, {3});
    CHECK(max(x, 0).item() == -1.0f);
    CHECK(argmax(x, 0).item() == 1);
}

TEST_CASE("argmax: positions past 2^24 are exact (int64, not float)") {
    // 2^24 + 1 = 16777217 is the first whole number a float cannot hold: as a float index it
    // would come back as 16777216, one element too early. 64 MB of zeros, one 1 at the end.
    const int64_t n = (int64_t{1} << 24) + 2;
    Tensor x = zeros({n});
    x.at({n - 1}) = 1.0f;
    CHECK(argmax(x, 0).item() == n - 1);
    CHECK(argmax(x, 0).item() == 16777217);
}

TEST_CASE("argmax: ties give the first maximum, as torch.argmax") {
    const Tensor x = from_vector({1, 7, 3, 7, 7, 0}, {6});
    CHECK(argmax(x, 0).item() == 1);
    const Tensor cols = from_vector({2, 2, 2, 2, 5, 5}, {3, 2});
    CHECK(argmax(cols, 0).to_vector() == std::vector<int64_t>{2, 2});
    CHECK(argmax(cols, 1).to_vector() == std::vector<int64_t>{0, 0, 0});
}

TEST_CASE("max and argmax: NaN wins, as in PyTorch (the first NaN is returned)") {
    const Tensor x = from_vector({1, kNaN, 3, kNaN}, {4});
    CHECK(std::isnan(max(x, 0).item()));
    CHECK(argmax(x, 0).item() == 1);
    const Tensor y = from_vector({kNaN, 5}, {2});
    CHECK(argmax(y, 0).item() == 0);
}

TEST_CASE("reductions: keepdim leaves a size-1 dim that broadcasts back") {
    Generator gen(5);
    const Tensor x = randn({2, 3, 4}, gen);
    for (int64_t dim : {0, 1, 2, -1}) {
        CAPTURE(dim);
        Shape kept = x.shape();
        kept[dim < 0 ? dim + 3 : dim] = 1;
        CHECK(sum(x, dim, true).shape() == kept);
        CHECK(mean(x, dim, true).shape() == kept);
        CHECK(max(x, dim, true).shape() == kept);
        CHECK(argmax(x, dim, true).shape() == kept);
        CHECK(x.sum(dim, true).to_vector() == sum(x, dim).to_vector());
        CHECK(x.argmax(dim, true).to_vector() == argmax(x, dim).to_vector());
    }
    // x - mean(x, -1, keepdim) has rows that sum to ~0 (the first step of LayerNorm).
    const Tensor centred = x - mean(x, -1, true);
    for (float s : sum(centred, -1).to_vector()) CHECK(std::abs(s) < 1e-5f);
}

TEST_CASE("reductions: a 1-d tensor reduces to a 0-d one") {
    const Tensor x = from_vector({1, 2, 3, 4}, {4});
    const Tensor s = sum(x, 0);
    CHECK(s.dim() == 0);
    CHECK(s.item() == 10.0f);
    CHECK(sum(x, 0, true).shape() == Shape{1});
    CHECK(mean(x, -1).item() == 2.5f);
}

TEST_CASE("reductions: a 0-d tensor reduces over dim 0 or -1 to itself") {
    const Tensor x = full({}, 5.0f);
    CHECK(sum(x, 0).dim() == 0);
    CHECK(sum(x, 0).item() == 5.0f);
    CHECK(sum(x, -1, true).dim() == 0);  // torch keeps it 0-d with keepdim too
    CHECK(mean(x, 0).item() == 5.0f);
    CHECK(max(x, 0).item() == 5.0f);
    CHECK(argmax(x, 0).item() == 0);
    CHECK_THROWS_AS(sum(x, 1), IndexError);
}

TEST_CASE("reductions over an empty dim: sum is 0, mean is NaN, max and argmax throw") {
    const Tensor x = zeros({2, 0});
    CHECK(sum(x, 1).shape() == Shape{2});
    CHECK(sum(x, 1).to_vector() == std::vector<float>{0, 0});
    const auto m = mean(x, 1).to_vector();
    REQUIRE(m.size() == 2);
    CHECK(std::isnan(m[0]));
    CHECK(std::isnan(m[1]));
    CHECK_THROWS_WITH_AS(
        max(x, 1), doctest::Contains("max: cannot reduce over dim 1 of shape (2, 0)"), IndexError);
    CHECK_THROWS_WITH_AS(argmax(x, -1),
                         doctest::Contains("argmax: cannot reduce over dim 1 of shape (2, 0)"),
                         IndexError);
}

TEST_CASE("reductions over a non-empty dim of an empty tensor give an empty result") {
    const Tensor x = zeros({0, 3});
    CHECK(sum(x, 1).shape() == Shape{0});
    CHECK(max(x, 1).shape() == Shape{0});
    CHECK(argmax(x, 1, true).shape() == Shape{0, 1});
    CHECK(sum(x, 0).to_vector() == std::vector<float>{0, 0, 0});
    CHECK_THROWS_AS(max(x, 0), IndexError);
}

TEST_CASE("reductions: a dim out of range is an IndexError naming the dim and the rank") {
    const Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(sum(x, 2),
                         doctest::Contains("sum: dim 2 is out of range for a tensor of rank 2"),
                         IndexError);
    CHECK_THROWS_WITH_AS(mean(x, -3), doctest::Contains("mean: dim -3"), IndexError);
    CHECK_THROWS_WITH_AS(max(x, 5), doctest::Contains("max: dim 5"), IndexError);
    CHECK_THROWS_WITH_AS(argmax(x, 2), doctest::Contains("argmax: dim 2"), IndexError);
}

TEST_CASE("reductions: non-contiguous inputs give the same numbers as their packed copy") {
    Generator gen(11);
    const Tensor base = randn({5, 7, 9}, gen);
    const Tensor views[] = {base.transpose(0, 2), base.slice(1, 1, 7, 2), base.permute({1, 2, 0}),
                            base.select(1, 3), from_vector({1, 2, 3}, {3, 1}).expand({3, 4})};
    for (const Tensor& v : views) {
        CAPTURE(to_string(v.shape()));
        CAPTURE(to_string(v.strides()));
        const Tensor packed = v.clone();
        for (int64_t dim = 0; dim < v.dim(); ++dim) {
            CAPTURE(dim);
            CHECK(sum(v, dim).to_vector() == sum(packed, dim).to_vector());
            CHECK(mean(v, dim).to_vector() == mean(packed, dim).to_vector());
            CHECK(max(v, dim).to_vector() == max(packed, dim).to_vector());
            CHECK(argmax(v, dim).to_vector() == argmax(packed, dim).to_vector());
        }
    }
}

TEST_CASE("reductions: agree with element-by-element loops on random shapes") {
    Generator gen(12);
    for (const Shape& shape :
         {Shape{1}, Shape{7}, Shape{3, 1, 17}, Shape{2, 65, 3}, Shape{4, 63}}) {
        const Tensor x = randn(shape, gen);
        for (int64_t dim = 0; dim < x.dim(); ++dim) {
            CAPTURE(to_string(shape));
            CAPTURE(dim);
            Shape rest = shape;
            rest[dim] = 1;
            std::vector<float> sums, maxes;
            std::vector<int64_t> args;
            for_each_index(rest, [&](const std::vector<int64_t>& index) {
                std::vector<int64_t> i = index;
                double s = 0.0;
                float best = -std::numeric_limits<float>::infinity();
                int64_t best_at = 0;
                for (i[dim] = 0; i[dim] < shape[dim]; ++i[dim]) {
                    s += x.at(i);
                    if (x.at(i) > best) best = x.at(i), best_at = i[dim];
                }
                sums.push_back(static_cast<float>(s));
                maxes.push_back(best);
                args.push_back(best_at);
            });
            check_close(sum(x, dim, true), from_vector(sums, rest), 1e-6f, 1e-6f);
            CHECK(max(x, dim, true).to_vector() == maxes);
            CHECK(argmax(x, dim, true).to_vector() == args);
        }
    }
}

TEST_CASE("mean: averaging 577 tokens of (1, 577, 768) stays accurate") {
    // Every token is 0.1 plus a shared offset; float32 left-to-right sums drift, double does not.
    const Tensor x = full({1, 577, 768}, 0.1f) + arange(768).reshape({1, 1, 768});
    const Tensor m = mean(x, 1);
    CHECK(m.shape() == Shape{1, 768});
    check_close(m, full({1, 768}, 0.1f) + arange(768).reshape({1, 768}), 0.0f, 1e-7f);
}

TEST_CASE("reductions: match torch") {
    const auto f = fixture("reduce");
    for (const std::string name : {"d0", "d1", "d2", "neg1", "tokens", "transposed"}) {
        CAPTURE(name);
        Tensor x = f[name + ".x"];
        if (name == "transposed") x = x.transpose(0, 2);
        const auto dim = static_cast<int64_t>(f[name + ".dim"].item());
        check_close(sum(x, dim), f[name + ".sum"], 1e-5f, 1e-5f);
        check_close(mean(x, dim), f[name + ".mean"], 1e-6f, 1e-5f);
        check_close(max(x, dim), f[name + ".max"], 0.0f, 0.0f);
        // torch's int64 argmax is stored as floats in the fixture (whole numbers, exact).
        const Tensor expected = f[name + ".argmax"];
        CHECK(argmax(x, dim).shape() == expected.shape());
        std::vector<int64_t> positions;
        for (float v : expected.to_vector()) positions.push_back(static_cast<int64_t>(v));
        CHECK(argmax(x, dim).to_vector() == positions);
    }
}
