// test_cat.cpp: torch.cat along any dim (tensor/ops/cat.h).
#include <doctest/doctest.h>

#include <vector>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

TEST_CASE("cat: joins rows along dim 0 and columns along dim 1") {
    const Tensor a = from_vector({1, 2, 3, 4}, {2, 2});
    const Tensor b = from_vector({5, 6}, {1, 2});
    const Tensor rows = cat({a, b}, 0);
    CHECK(rows.shape() == Shape{3, 2});
    CHECK(rows.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});

    const Tensor c = from_vector({7, 8}, {2, 1});
    const Tensor cols = cat({a, c}, 1);
    CHECK(cols.shape() == Shape{2, 3});
    CHECK(cols.to_vector() == std::vector<float>{1, 2, 7, 3, 4, 8});
}

TEST_CASE("cat: a negative dim counts from the end") {
    Generator gen(3);
    const Tensor a = randn({2, 3, 4}, gen), b = randn({2, 3, 2}, gen);
    const Tensor neg = cat({a, b}, -1);
    CHECK(neg.shape() == Shape{2, 3, 6});
    CHECK(max_abs_diff(neg, cat({a, b}, 2)) == 0.0f);
    CHECK(neg.at({1, 2, 3}) == a.at({1, 2, 3}));
    CHECK(neg.at({1, 2, 5}) == b.at({1, 2, 1}));
    CHECK(cat({a, a}, -3).shape() == Shape{4, 3, 4});
}

TEST_CASE("cat: the ViT class token joins the patch tokens as (1, 577, 768)") {
    Generator gen(7);
    const Tensor cls = randn({1, 1, 768}, gen);
    const Tensor patches = arange(576 * 768).reshape({1, 576, 768});  // every value distinct
    const Tensor x = cat({cls, patches}, 1);
    CHECK(x.shape() == Shape{1, 577, 768});
    CHECK(x.is_contiguous());
    check_close(x.narrow(1, 0, 1), cls, 0.0f, 0.0f);
    check_close(x.narrow(1, 1, 576), patches, 0.0f, 0.0f);
}

TEST_CASE("cat: the result is a new tensor that does not alias its inputs") {
    Tensor a = ones({2, 2});
    const Tensor out = cat({a, a}, 0);
    CHECK_FALSE(out.shares_storage_with(a));
    a.fill_(5.0f);
    CHECK(out.to_vector() == std::vector<float>(8, 1.0f));
}

TEST_CASE("cat: one tensor gives a copy of it") {
    const Tensor a = arange(6).reshape({2, 3});
    const Tensor out = cat({a}, 1);
    CHECK(out.shape() == Shape{2, 3});
    CHECK_FALSE(out.shares_storage_with(a));
    CHECK(out.to_vector() == a.to_vector());
}

TEST_CASE("cat: non-contiguous inputs (transposed, sliced, expanded) are read correctly") {
    const Tensor base = arange(12).reshape({3, 4});  // [[0..3], [4..7], [8..11]]
    const Tensor t = base.transpose(0, 1);           // (4, 3): rows 0,4,8 / 1,5,9 / ...
    const Tensor s = base.slice(1, 0, 4, 2);         // (3, 2): columns 0 and 2
    const Tensor e = from_vector({-1, -2, -3}, {3, 1}).expand({3, 2});
    const Tensor out = cat({t.transpose(0, 1), s, e}, 1);  // (3, 4 + 2 + 2)
    CHECK(out.shape() == Shape{3, 8});
    CHECK(out.to_vector() == std::vector<float>{0, 1, 2,  3,  0, 2,  -1, -1,  //
                                                4, 5, 6,  7,  4, 6,  -2, -2,  //
                                                8, 9, 10, 11, 8, 10, -3, -3});
    const Tensor rows = cat({t, t.slice(0, 1, 4, 2)}, 0);  // (4 + 2, 3)
    CHECK(rows.shape() == Shape{6, 3});
    CHECK(rows.to_vector() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10,  //
                                                 3, 7, 11, 1, 5, 9, 3, 7, 11});
}

TEST_CASE("cat: inputs with size 0 along dim contribute nothing") {
    const Tensor a = arange(6).reshape({2, 3});
    const Tensor out = cat({zeros({2, 0}), a, zeros({2, 0})}, 1);
    CHECK(out.shape() == Shape{2, 3});
    CHECK(out.to_vector() == a.to_vector());
    CHECK(cat({zeros({0, 3}), zeros({0, 3})}, 0).shape() == Shape{0, 3});
}

TEST_CASE("cat: legacy empty tensors of shape (0) are skipped whatever the rank, as in torch") {
    const Tensor a = arange(6).reshape({2, 3});
    const Tensor out = cat({Tensor(), a, zeros({0})}, 1);
    CHECK(out.shape() == Shape{2, 3});
    CHECK(out.to_vector() == a.to_vector());
    // Only empties: the result is empty; torch.cat([zeros(0), zeros(0)], 1) is accepted too.
    const Tensor none = cat({Tensor(), Tensor()}, 1);
    CHECK(none.shape() == Shape{0});
    // A 1-d tensor of size 0 among 1-d tensors is simply a zero-length piece.
    CHECK(cat({zeros({0}), arange(3)}, 0).to_vector() == std::vector<float>{0, 1, 2});
}

TEST_CASE("cat: an empty list is an error") {
    CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("cat: expected a non-empty list"),
                         std::invalid_argument);
}

TEST_CASE("cat: tensors of different rank are an error naming both shapes") {
    CHECK_THROWS_WITH_AS(
        cat({zeros({2, 3}), zeros({3})}, 0),
        doctest::Contains(
            "tensor 0 has shape (2, 3) (rank 2) and tensor 1 has shape (3,) (rank 1)"),
        ShapeError);
    CHECK_THROWS_WITH_AS(cat({zeros({2, 3}), full({}, 1.0f)}, 0),
                         doctest::Contains("cat: tensor 1 is 0-d"), ShapeError);
}

TEST_CASE("cat: a size mismatch outside dim is an error naming both shapes and the dim") {
    CHECK_THROWS_WITH_AS(cat({zeros({2, 3}), zeros({2, 4})}, 0),
                         doctest::Contains("cat: sizes must match except in dim 0, but tensor 0 "
                                           "has shape (2, 3) and tensor 1 has shape (2, 4): "
                                           "size 3 != 4 at dim 1"),
                         ShapeError);
    // The position printed is the one in the list the caller passed (empties included).
    CHECK_THROWS_WITH_AS(cat({Tensor(), zeros({1, 2, 5}), zeros({1, 2, 5}), zeros({1, 3, 7})}, -1),
                         doctest::Contains("tensor 1 has shape (1, 2, 5) and tensor 3 has shape "
                                           "(1, 3, 7): size 2 != 3 at dim 1"),
                         ShapeError);
}

TEST_CASE("cat: a dim out of range is an IndexError naming the dim and the rank") {
    CHECK_THROWS_WITH_AS(cat({zeros({2, 3}), zeros({2, 3})}, 2),
                         doctest::Contains("cat: dim 2 is out of range for a tensor of rank 2"),
                         IndexError);
    CHECK_THROWS_AS(cat({zeros({2, 3}), zeros({2, 3})}, -3), IndexError);
}

TEST_CASE("cat: matches torch.cat") {
    const auto f = fixture("cat");
    SUBCASE("class token expanded over the batch, then patches") {
        const Tensor cls = f["cls_token.in0"].expand({2, 1, 8});
        check_close(cat({cls, f["cls_token.in1"]}, 1), f["cls_token.out"], 0.0f, 0.0f);
    }
    SUBCASE("three inputs along dim 0") {
        check_close(cat({f["dim0.in0"], f["dim0.in1"], f["dim0.in2"]}, 0), f["dim0.out"], 0.0f,
                    0.0f);
    }
    SUBCASE("negative dim") {
        const auto dim = static_cast<int64_t>(f["neg_dim.dim"].item());
        check_close(cat({f["neg_dim.in0"], f["neg_dim.in1"]}, dim), f["neg_dim.out"], 0.0f, 0.0f);
    }
    SUBCASE("a transposed input") {
        const Tensor t = f["transposed.in0"].transpose(0, 1);
        check_close(cat({t, f["transposed.in1"]}, 1), f["transposed.out"], 0.0f, 0.0f);
    }
}
