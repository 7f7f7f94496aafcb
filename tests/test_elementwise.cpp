// test_elementwise.cpp: add, sub, mul, div with broadcasting (tensor/ops/elementwise.h).
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

const float kInf = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("elementwise: add, sub, mul, div on equal shapes") {
    const Tensor a = from_vector({1, 2, 3, 4}, {2, 2});
    const Tensor b = from_vector({10, 20, 30, 40}, {2, 2});
    CHECK((a + b).to_vector() == std::vector<float>{11, 22, 33, 44});
    CHECK((b - a).to_vector() == std::vector<float>{9, 18, 27, 36});
    CHECK((a * b).to_vector() == std::vector<float>{10, 40, 90, 160});
    CHECK((b / a).to_vector() == std::vector<float>{10, 10, 10, 10});
    CHECK(add(a, b).to_vector() == a.add(b).to_vector());
    CHECK(sub(a, b).to_vector() == a.sub(b).to_vector());
    CHECK(mul(a, b).to_vector() == a.mul(b).to_vector());
    CHECK(div(a, b).to_vector() == a.div(b).to_vector());
    CHECK((a + b).shape() == Shape{2, 2});
}

TEST_CASE("elementwise: the result is a new packed tensor that does not alias the inputs") {
    Tensor a = ones({2, 3});
    const Tensor out = a + a;
    CHECK_FALSE(out.shares_storage_with(a));
    CHECK(out.is_contiguous());
    a.fill_(10.0f);
    CHECK(out.to_vector() == std::vector<float>(6, 2.0f));
}

TEST_CASE("broadcasting: a bias (768) adds to every token of (1, 577, 768)") {
    Generator gen(1);
    const Tensor x = rand_uniform({1, 577, 768}, gen, -2.0f, 2.0f);
    const Tensor bias = randn({768}, gen);
    const Tensor out = x + bias;
    REQUIRE(out.shape() == Shape{1, 577, 768});
    const auto vx = x.to_vector(), vb = bias.to_vector(), vo = out.to_vector();
    size_t wrong = 0;
    for (size_t n = 0; n < 577; ++n)
        for (size_t c = 0; c < 768; ++c)
            if (vo[n * 768 + c] != vx[n * 768 + c] + vb[c]) ++wrong;
    CHECK(wrong == 0);
    // The bias on the left gives the same tensor.
    CHECK(max_abs_diff(bias + x, out) == 0.0f);
}

TEST_CASE("broadcasting: (B, 1, C) * (1, N, 1) -> (B, N, C)") {
    const Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 1, 3});  // B=2, C=3
    const Tensor b = from_vector({10, 100}, {1, 2, 1});           // N=2
    const Tensor out = a * b;
    CHECK(out.shape() == Shape{2, 2, 3});
    CHECK(out.to_vector() ==
          std::vector<float>{10, 20, 30, 100, 200, 300, 40, 50, 60, 400, 500, 600});
    CHECK((b * a).to_vector() == out.to_vector());
}

TEST_CASE("broadcasting: a column minus a row gives the full table") {
    const Tensor col = from_vector({10, 20}, {2, 1});
    const Tensor row = from_vector({1, 2, 3}, {3});
    const Tensor out = col - row;
    CHECK(out.shape() == Shape{2, 3});
    CHECK(out.to_vector() == std::vector<float>{9, 8, 7, 19, 18, 17});
}

TEST_CASE("broadcasting: size-0 dims broadcast to an empty result") {
    CHECK((zeros({0, 3}) + ones({3})).shape() == Shape{0, 3});
    CHECK((zeros({2, 0}) * ones({2, 1})).shape() == Shape{2, 0});
    CHECK((zeros({1, 0}) + ones({4, 1})).shape() == Shape{4, 0});
}

TEST_CASE("broadcasting: 0-d tensors combine with anything") {
    const Tensor s = full({}, 3.0f);
    CHECK((s + s).dim() == 0);
    CHECK((s * s).item() == 9.0f);
    CHECK((from_vector({1, 2}, {2}) * s).to_vector() == std::vector<float>{3, 6});
}

TEST_CASE("broadcasting: incompatible shapes are an error naming the op and both shapes") {
    CHECK_THROWS_WITH_AS(zeros({2, 3}) + zeros({4}),
                         doctest::Contains("add: shapes (2, 3) and (4,) cannot be broadcast: "
                                           "size 3 != 4 at dim 1"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(zeros({1, 577, 768}) - zeros({576, 768}),
                         doctest::Contains("sub: shapes (1, 577, 768) and (576, 768)"), ShapeError);
    CHECK_THROWS_WITH_AS(mul(zeros({2, 1, 5}), zeros({3, 4})),
                         doctest::Contains("mul: shapes (2, 1, 5) and (3, 4)"), ShapeError);
    CHECK_THROWS_WITH_AS(zeros({3}) / zeros({2}), doctest::Contains("div: shapes (3,) and (2,)"),
                         ShapeError);
}

TEST_CASE("scalars: on either side of + - * /") {
    const Tensor x = from_vector({1, 2, 4}, {3});
    CHECK((x + 1.0f).to_vector() == std::vector<float>{2, 3, 5});
    CHECK((1.0f + x).to_vector() == std::vector<float>{2, 3, 5});
    CHECK((x - 1.0f).to_vector() == std::vector<float>{0, 1, 3});
    CHECK((1.0f - x).to_vector() == std::vector<float>{0, -1, -3});
    CHECK((x * 2.0f).to_vector() == std::vector<float>{2, 4, 8});
    CHECK((2.0f * x).to_vector() == std::vector<float>{2, 4, 8});
    CHECK((x / 2.0f).to_vector() == std::vector<float>{0.5f, 1, 2});
    CHECK((2.0f / x).to_vector() == std::vector<float>{2, 1, 0.5f});
    CHECK((x * 2.0f).shape() == Shape{3});
}

TEST_CASE("unary minus negates every element, keeping the shape") {
    const Tensor x = from_vector({1, -2, 0, 3.5f}, {2, 2});
    const Tensor n = -x;
    CHECK(n.shape() == Shape{2, 2});
    CHECK(n.to_vector() == std::vector<float>{-1, 2, 0, -3.5f});
    CHECK(std::signbit(n.at({1, 0})));  // -(0) is -0, as in torch
}

TEST_CASE("+=: adds in place, with b broadcast to a's shape") {
    Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    const float* before = x.data();
    x += from_vector({10, 20, 30}, {3});
    CHECK(x.data() == before);  // same storage, no new tensor
    CHECK(x.to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
    x += x;  // aliasing is fine
    CHECK(x.to_vector() == std::vector<float>{22, 44, 66, 28, 50, 72});
    x *= 0.5f;
    CHECK(x.to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
}

TEST_CASE("+=: on a view it writes into the base") {
    Tensor x = zeros({3, 4});
    Tensor col = x.select(1, 2);
    col += ones({3});
    Tensor t = x.transpose(0, 1);
    t += from_vector({1, 2, 3}, {3});  // adds [1, 2, 3] down each column of x
    CHECK(x.to_vector() == std::vector<float>{1, 1, 2, 1, 2, 2, 3, 2, 3, 3, 4, 3});
}

TEST_CASE("+=: a shape that would grow a is an error") {
    Tensor x = zeros({3});
    CHECK_THROWS_WITH_AS(
        x += zeros({2, 3}),
        doctest::Contains("add_: (2, 3) does not broadcast to the in-place shape (3,)"),
        ShapeError);
    CHECK_THROWS_WITH_AS(x += zeros({4}), doctest::Contains("shapes (3,) and (4,)"), ShapeError);
    CHECK(x.to_vector() == std::vector<float>{0, 0, 0});  // untouched
}

TEST_CASE("elementwise: non-contiguous operands are read through their strides") {
    const Tensor base = arange(12).reshape({3, 4});
    const Tensor t = base.transpose(0, 1);                          // (4, 3)
    const Tensor s = arange(24).reshape({4, 6}).slice(1, 0, 6, 2);  // (4, 3), stride 2
    const Tensor out = t + s;
    std::vector<float> expected;
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 3; ++j) expected.push_back(base.at({j, i}) + (i * 6 + 2 * j));
    CHECK(out.to_vector() == expected);
    CHECK((t * t).to_vector() == (t.clone() * t.clone()).to_vector());
    // An expanded operand (stride 0) and a transposed output shape.
    const Tensor e = from_vector({1, 2, 3}, {3, 1}).expand({3, 4});
    CHECK((e - base).to_vector() ==
          std::vector<float>{1, 0, -1, -2, -2, -3, -4, -5, -5, -6, -7, -8});
}

TEST_CASE("elementwise: agrees with an element-by-element loop on random broadcast shapes") {
    Generator gen(9);
    const std::pair<Shape, Shape> cases[] = {
        {{1}, {7}},      {{3, 1}, {1, 17}},  {{2, 1, 63}, {5, 1}},
        {{64, 1}, {65}}, {{1, 577, 3}, {3}}, {{2, 3, 4, 5}, {1, 3, 1, 5}},
    };
    for (const auto& shapes : cases) {
        const Shape& sa = shapes.first;
        const Shape& sb = shapes.second;
        CAPTURE(to_string(sa));
        CAPTURE(to_string(sb));
        const Tensor a = randn(sa, gen), b = randn(sb, gen);
        const Tensor out = a * b - a / (b * b + 1.0f);
        const Shape shape = broadcast_shapes(sa, sb, "test");
        REQUIRE(out.shape() == shape);
        const Tensor ea = a.expand(shape), eb = b.expand(shape);
        std::vector<float> expected;
        for_each_index(shape, [&](const std::vector<int64_t>& i) {
            const float x = ea.at(i), y = eb.at(i);
            expected.push_back(x * y - x / (y * y + 1.0f));
        });
        // The compiler may fuse x * y - ... into one FMA here (one rounding fewer), so allow
        // an ulp or two rather than demanding equality.
        check_close(out, from_vector(expected, shape), 1e-6f, 1e-6f);
    }
}

TEST_CASE("elementwise: large outputs split by rows between threads, every element exact") {
    // Big enough that parallel_for splits the rows (kGrainSize floats per chunk), with a
    // broadcast operand, a transposed one and an in-place add into a view, so a chunk starting
    // mid-way must find its own row index. x + y is one rounding: equality, not closeness.
    using vitlab::testing::ThreadsForTest;
    Generator gen(4);
    const Tensor a = randn({3, 70, 200}, gen), b = randn({70, 1}, gen);
    const Tensor t = randn({3, 200, 70}, gen).transpose(1, 2);  // (3, 70, 200), strided
    Tensor sums[2], products[2], inplace[2];
    for (int threads : {1, 2}) {
        ThreadsForTest use(threads);
        sums[threads - 1] = a + b;
        products[threads - 1] = a * t;
        Tensor base = zeros({3, 200, 70});
        Tensor view = base.transpose(1, 2);
        view += a;
        inplace[threads - 1] = base;
    }
    const Shape shape{3, 70, 200};
    std::vector<float> sum, product, placed;
    for_each_index(shape, [&](const std::vector<int64_t>& i) {
        sum.push_back(a.at(i) + b.at({i[1], 0}));
        product.push_back(a.at(i) * t.at(i));
    });
    for (int threads = 1; threads <= 2; ++threads) {
        CAPTURE(threads);
        CHECK(sums[threads - 1].to_vector() == sum);
        CHECK(products[threads - 1].to_vector() == product);
        CHECK(inplace[threads - 1].transpose(1, 2).contiguous().to_vector() == a.to_vector());
    }
}

TEST_CASE("division by zero gives inf, -inf or NaN, like torch") {
    const Tensor a = from_vector({1, -1, 0, 2}, {4});
    const auto q = (a / zeros({4})).to_vector();
    CHECK(q[0] == kInf);
    CHECK(q[1] == -kInf);
    CHECK(std::isnan(q[2]));
    CHECK(q[3] == kInf);
    CHECK((1.0f / zeros({1})).item() == kInf);
    CHECK((1.0f / full({1}, -0.0f)).item() == -kInf);
}

TEST_CASE("exp and sqrt apply elementwise and keep the shape") {
    const Tensor x = from_vector({0, 1, 4, 9}, {2, 2});
    CHECK(sqrt(x).to_vector() == std::vector<float>{0, 1, 2, 3});
    CHECK(exp(x).at({0, 0}) == 1.0f);
    CHECK(exp(x).at({0, 1}) == doctest::Approx(2.718281828).epsilon(1e-6));
    CHECK(sqrt(x.transpose(0, 1)).to_vector() == std::vector<float>{0, 2, 1, 3});
}

TEST_CASE("elementwise: matches torch") {
    const auto f = fixture("elementwise");
    check_close(f["bias.a"] + f["bias.b"], f["bias.out"], 0.0f, 0.0f);
    check_close(f["outer.a"] * f["outer.b"], f["outer.out"], 0.0f, 0.0f);
    check_close(f["col_minus_row.a"] - f["col_minus_row.b"], f["col_minus_row.out"], 0.0f, 0.0f);
    check_close(f["div.a"] / f["div.b"], f["div.out"], 0.0f, 1e-7f);
    const Tensor a = f["noncontig.a"].transpose(0, 1);
    const Tensor b = f["noncontig.b"].slice(1, 0, 8, 2);
    check_close(a + b, f["noncontig.out"], 0.0f, 0.0f);
    // inf, -inf and NaN in the same places (inf - inf is NaN, so compare exactly here).
    const auto q = (f["div_zero.a"] / f["div_zero.b"]).to_vector();
    const auto expected = f["div_zero.out"].to_vector();
    REQUIRE(q.size() == expected.size());
    for (size_t i = 0; i < q.size(); ++i) {
        CAPTURE(i);
        CHECK((q[i] == expected[i] || (std::isnan(q[i]) && std::isnan(expected[i]))));
    }
    const auto scalar = [&](const std::string& name) { return f[name + ".s"].item(); };
    check_close(scalar("scalar_sub_left") - f["scalar_sub_left.a"], f["scalar_sub_left.out"], 0.0f,
                0.0f);
    check_close(f["scalar_div_right.a"] / scalar("scalar_div_right"), f["scalar_div_right.out"],
                0.0f, 0.0f);
    check_close(scalar("scalar_div_left") / f["scalar_div_left.a"], f["scalar_div_left.out"], 0.0f,
                1e-7f);
    check_close(scalar("scalar_mul_left") * f["scalar_mul_left.a"], f["scalar_mul_left.out"], 0.0f,
                0.0f);
}
