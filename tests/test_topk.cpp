// test_topk.cpp: the k largest values along a dim, with their indices (tensor/ops/reduce.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

// The fixtures store torch's int64 indices as floats (small whole numbers, so exactly).
IndexTensor as_indices(const Tensor& t) {
    std::vector<int64_t> values;
    for (float v : t.to_vector()) values.push_back(static_cast<int64_t>(v));
    return IndexTensor(t.shape(), values);
}

}  // namespace

TEST_CASE("topk: the k largest values, largest first, with their positions") {
    const Tensor x = from_vector({0.5f, 3, -1, 7, 2}, {5});
    const TopK top = topk(x, 3);
    CHECK(top.values.shape() == Shape{3});
    CHECK(top.values.to_vector() == std::vector<float>{7, 3, 2});
    CHECK(top.indices.to_vector() == std::vector<int64_t>{3, 1, 4});
}

TEST_CASE("topk: ties keep the lower index first") {
    const Tensor x = from_vector({1, 3, 3, 2, 3, 1}, {6});
    const TopK top = topk(x, 4);
    CHECK(top.values.to_vector() == std::vector<float>{3, 3, 3, 2});
    CHECK(top.indices.to_vector() == std::vector<int64_t>{1, 2, 4, 3});
    const TopK all_equal = topk(zeros({5}), 5);
    CHECK(all_equal.indices.to_vector() == std::vector<int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("topk: works along any dim; the other dims are kept") {
    // [[1, 9, 4],
    //  [8, 2, 6]]
    const Tensor x = from_vector({1, 9, 4, 8, 2, 6}, {2, 3});
    const TopK rows = topk(x, 2, 1);
    CHECK(rows.values.shape() == Shape{2, 2});
    CHECK(rows.values.to_vector() == std::vector<float>{9, 4, 8, 6});
    CHECK(rows.indices.to_vector() == std::vector<int64_t>{1, 2, 0, 2});
    const TopK cols = topk(x, 1, 0);
    CHECK(cols.values.shape() == Shape{1, 3});
    CHECK(cols.values.to_vector() == std::vector<float>{8, 9, 6});
    CHECK(cols.indices.to_vector() == std::vector<int64_t>{1, 0, 1});
    const TopK neg = topk(x, 2, -2);
    CHECK(neg.values.to_vector() == std::vector<float>{8, 9, 6, 1, 2, 4});
    CHECK(neg.indices.to_vector() == std::vector<int64_t>{1, 0, 1, 0, 1, 0});
}

TEST_CASE("topk: the results are packed, whatever the dim") {
    Generator gen(2);
    const TopK top = topk(randn({3, 7, 5}, gen), 2, 1);
    CHECK(top.values.shape() == Shape{3, 2, 5});
    CHECK(top.values.is_contiguous());
    CHECK(top.indices.shape() == Shape{3, 2, 5});
}

TEST_CASE("topk: k equal to the size sorts the whole dim; k = 0 gives an empty result") {
    Generator gen(3);
    const Tensor x = randn({4, 9}, gen);
    const TopK all = topk(x, 9);
    for (int64_t r = 0; r < 4; ++r) {
        std::vector<float> row = x.select(0, r).to_vector();
        std::sort(row.begin(), row.end(), [](float a, float b) { return a > b; });
        CHECK(all.values.select(0, r).to_vector() == row);
        // Each index points at its value.
        for (int64_t j = 0; j < 9; ++j)
            CHECK(x.at({r, all.indices.at({r, j})}) == all.values.at({r, j}));
    }
    const TopK none = topk(x, 0);
    CHECK(none.values.shape() == Shape{4, 0});
    CHECK(none.indices.shape() == Shape{4, 0});
}

TEST_CASE("topk: NaN counts as the largest value, as in PyTorch") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const TopK top = topk(from_vector({1, nan, 3, nan}, {4}), 3);
    const auto v = top.values.to_vector();
    CHECK(std::isnan(v[0]));
    CHECK(std::isnan(v[1]));
    CHECK(v[2] == 3.0f);
    CHECK(top.indices.to_vector() == std::vector<int64_t>{1, 3, 2});
}

TEST_CASE("topk: non-contiguous inputs give the same answer as their packed copy") {
    Generator gen(4);
    const Tensor base = randn({6, 8, 5}, gen);
    const Tensor views[] = {base.transpose(0, 2), base.slice(1, 1, 8, 3), base.select(2, 4)};
    for (const Tensor& v : views) {
        CAPTURE(to_string(v.shape()));
        for (int64_t dim = 0; dim < v.dim(); ++dim) {
            CAPTURE(dim);
            const int64_t k = std::min<int64_t>(3, v.size(dim));
            const TopK a = topk(v, k, dim), b = topk(v.clone(), k, dim);
            CHECK(a.values.to_vector() == b.values.to_vector());
            CHECK(a.indices.to_vector() == b.indices.to_vector());
        }
    }
}

TEST_CASE("topk: indices are int64 and index directly, as torch.topk's LongTensor") {
    const Tensor x = from_vector({0.1f, 0.7f, 0.2f, 0.9f, 0.3f, 0.6f}, {2, 3});
    const TopK top = topk(x, 2, -1);
    const int64_t best = top.indices.at({1, 0});  // no cast: the type is int64_t
    CHECK(best == 0);
    CHECK(x.at({1, best}) == top.values.at({1, 0}));
    CHECK(top.indices.at({-1, -1}) == 2);  // negative indices count from the end
    CHECK_THROWS_WITH_AS(top.indices.at({2, 0}), doctest::Contains("at: index 2 is out of range"),
                         IndexError);
}

TEST_CASE("topk: the first index agrees with argmax") {
    Generator gen(5);
    const Tensor x = randn({7, 65}, gen);
    CHECK(topk(x, 1, 1).indices.to_vector() == argmax(x, 1).to_vector());
    CHECK(topk(x, 1, 0).values.to_vector() == max(x, 0, true).to_vector());
}

TEST_CASE("topk: a 0-d tensor is its own top-1") {
    const TopK top = topk(full({}, 4.0f), 1, 0);
    CHECK(top.values.dim() == 0);
    CHECK(top.values.item() == 4.0f);
    CHECK(top.indices.dim() == 0);
    CHECK(top.indices.item() == 0);
    CHECK_THROWS_AS(topk(full({}, 4.0f), 2, 0), IndexError);
}

TEST_CASE("topk: k larger than the dim, or negative, is an error naming k and the shape") {
    const Tensor x = zeros({3, 4});
    CHECK_THROWS_WITH_AS(topk(x, 5, 1),
                         doctest::Contains("topk: k = 5 is out of range for dim 1 of shape (3, 4)"),
                         IndexError);
    CHECK_THROWS_WITH_AS(topk(x, -1, 1), doctest::Contains("topk: k = -1"), IndexError);
    CHECK_THROWS_WITH_AS(topk(x, 4, 0), doctest::Contains("(expected 0 <= k <= 3)"), IndexError);
    CHECK_THROWS_WITH_AS(topk(x, 1, 2), doctest::Contains("topk: dim 2 is out of range"),
                         IndexError);
}

TEST_CASE("topk: matches torch.topk (ImageNet top-5 and other dims)") {
    const auto f = fixture("reduce");
    for (const std::string name : {"imagenet_top5", "mid_dim", "all", "first_dim"}) {
        CAPTURE(name);
        const std::string p = "topk_" + name + ".";
        const auto k = static_cast<int64_t>(f[p + "k"].item());
        const auto dim = static_cast<int64_t>(f[p + "dim"].item());
        const TopK top = topk(f[p + "x"], k, dim);
        check_close(top.values, f[p + "values"], 0.0f, 0.0f);
        CHECK(top.indices == as_indices(f[p + "indices"]));
    }
}
