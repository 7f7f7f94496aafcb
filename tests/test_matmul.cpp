// test_matmul.cpp: matmul's rank rules, errors, and naive vs blocked agreement (matmul.h).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

const Kernel kBoth[] = {Kernel::Naive, Kernel::Blocked};

// Sets the thread count for one test and puts the old one back afterwards.
struct ThreadsForTest {
    int saved = get_num_threads();
    explicit ThreadsForTest(int n) { set_num_threads(n); }
    ~ThreadsForTest() { set_num_threads(saved); }
};

Tensor abs_of(const Tensor& x) {
    return map(x, [](float v) { return std::fabs(v); });
}

// matmul.h's tolerance: for every element, |blocked - naive| <= 1e-4 * sum_p |a_ip b_pj|.
void check_naive_and_blocked_agree(const Tensor& a, const Tensor& b) {
    const Tensor want = matmul_naive(a, b), got = matmul_blocked(a, b);
    REQUIRE(got.shape() == want.shape());
    const Tensor scale = matmul_naive(abs_of(a), abs_of(b));
    const auto g = got.to_vector(), w = want.to_vector(), s = scale.to_vector();
    for (size_t i = 0; i < g.size(); ++i) {
        if (std::fabs(g[i] - w[i]) <= 1e-4f * s[i]) continue;
        FAIL_CHECK("element ", i, " of ", to_string(want.shape()), " for ", to_string(a.shape()),
                   " @ ", to_string(b.shape()), ": blocked ", g[i], ", naive ", w[i],
                   ", sum |a b| ", s[i]);
        return;
    }
}

}  // namespace

// ---- the rank rules, by hand --------------------------------------------------------------

TEST_CASE("matmul: multiplies two matrices (hand-computed)") {
    const Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    const Tensor b = from_vector({7, 8, 9, 10, 11, 12}, {3, 2});
    for (Kernel k : kBoth) {
        const Tensor c = matmul(a, b, k);
        CHECK(c.shape() == Shape{2, 2});
        // [1 2 3] . [7 9 11] = 58, [1 2 3] . [8 10 12] = 64, [4 5 6] . ... = 139, 154
        CHECK(c.to_vector() == std::vector<float>{58, 64, 139, 154});
    }
}

TEST_CASE("matmul: 1-d @ 1-d is the dot product, a 0-d tensor") {
    for (Kernel k : kBoth) {
        const Tensor c = matmul(from_vector({1, 2, 3}, {3}), from_vector({4, 5, -6}, {3}), k);
        CHECK(c.shape() == Shape{});
        CHECK(c.item() == 4 + 10 - 18);
    }
}

TEST_CASE("matmul: 1-d @ 2-d uses the vector as one row, then drops that dim") {
    const Tensor b = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    for (Kernel k : kBoth) {
        const Tensor c = matmul(from_vector({1, 2}, {2}), b, k);
        CHECK(c.shape() == Shape{3});
        CHECK(c.to_vector() == std::vector<float>{9, 12, 15});
    }
}

TEST_CASE("matmul: 2-d @ 1-d uses the vector as one column, then drops that dim") {
    const Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    for (Kernel k : kBoth) {
        const Tensor c = matmul(a, from_vector({1, 0, -1}, {3}), k);
        CHECK(c.shape() == Shape{2});
        CHECK(c.to_vector() == std::vector<float>{-2, -2});
    }
}

TEST_CASE("matmul: batched 3-d operands multiply matrix by matrix") {
    Generator gen(1);
    const Tensor a = randn({4, 3, 5}, gen), b = randn({4, 5, 2}, gen);
    for (Kernel k : kBoth) {
        const Tensor c = matmul(a, b, k);
        REQUIRE(c.shape() == Shape{4, 3, 2});
        for (int64_t i = 0; i < 4; ++i)
            check_close(c.select(0, i), matmul(a.select(0, i), b.select(0, i), k), 0, 0);
    }
}

TEST_CASE("matmul: batch dims broadcast, (2, 1, 3, 4) @ (5, 4, 2) -> (2, 5, 3, 2)") {
    Generator gen(2);
    const Tensor a = randn({2, 1, 3, 4}, gen), b = randn({5, 4, 2}, gen);
    for (Kernel k : kBoth) {
        const Tensor c = matmul(a, b, k);
        REQUIRE(c.shape() == Shape{2, 5, 3, 2});
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 5; ++j)
                check_close(c.select(0, i).select(0, j),
                            matmul(a.select(0, i).select(0, 0), b.select(0, j), k), 0, 0);
    }
}

TEST_CASE("matmul: a 1-d operand meets a batched one") {
    Generator gen(3);
    const Tensor v = randn({4}, gen), batch = randn({2, 4, 3}, gen), rows = randn({2, 3, 4}, gen);
    for (Kernel k : kBoth) {
        const Tensor left = matmul(v, batch, k);  // (4) @ (2, 4, 3) -> (2, 3)
        REQUIRE(left.shape() == Shape{2, 3});
        check_close(left.select(0, 1), matmul(v, batch.select(0, 1), k), 0, 0);
        const Tensor right = matmul(rows, v, k);  // (2, 3, 4) @ (4) -> (2, 3)
        REQUIRE(right.shape() == Shape{2, 3});
        check_close(right.select(0, 1), matmul(rows.select(0, 1), v, k), 0, 0);
    }
}

TEST_CASE("matmul: size-1 and empty dims") {
    for (Kernel k : kBoth) {
        CHECK(matmul(full({1, 1}, 3), full({1, 1}, -2), k).to_vector() == std::vector<float>{-6});
        CHECK(matmul(zeros({0, 3}), zeros({3, 4}), k).shape() == Shape{0, 4});
        CHECK(matmul(zeros({2, 3}), zeros({3, 0}), k).shape() == Shape{2, 0});
        CHECK(matmul(zeros({0, 2, 3}), zeros({3, 4}), k).shape() == Shape{0, 2, 4});
        CHECK(matmul(zeros({0}), zeros({0}), k).item() == 0);
        // K = 0: every element is an empty sum, 0.
        const Tensor c = matmul(zeros({2, 0}), zeros({0, 3}), k);
        CHECK(c.shape() == Shape{2, 3});
        CHECK(c.to_vector() == std::vector<float>(6, 0.0f));
    }
}

TEST_CASE("matmul: Tensor::matmul is the same as matmul") {
    const Tensor a = from_vector({1, 2, 3, 4}, {2, 2}), b = from_vector({0, 1, 1, 0}, {2, 2});
    CHECK(a.matmul(b).to_vector() == std::vector<float>{2, 1, 4, 3});
}

// ---- errors -------------------------------------------------------------------------------

TEST_CASE("matmul: mismatched inner sizes name both shapes") {
    CHECK_THROWS_WITH_AS(matmul(zeros({576, 768}), zeros({512, 10})),
                         "matmul: cannot multiply (576, 768) by (512, 10): 768 != 512", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({4})),
                         "matmul: cannot multiply (3) by (4): 3 != 4", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({2, 4, 5})),
                         "matmul: cannot multiply (3) by (2, 4, 5): 3 != 4", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({5}), Kernel::Naive),
                         "matmul: cannot multiply (2, 3, 4) by (5): 4 != 5", ShapeError);
}

TEST_CASE("matmul: batch dims that do not broadcast are named") {
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4, 5}), zeros({4, 5, 6})),
                         "matmul: cannot multiply (2, 3, 4, 5) by (4, 5, 6): batch dims (2, 3) "
                         "and (4) do not broadcast (3 != 4)",
                         ShapeError);
}

TEST_CASE("matmul: a 0-d operand is rejected") {
    CHECK_THROWS_WITH_AS(matmul(full({}, 2), zeros({3})),
                         "matmul: both arguments need at least 1 dim, got () and (3)", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({3}), full({}, 2)),
                         "matmul: both arguments need at least 1 dim, got (3) and ()", ShapeError);
}

TEST_CASE("matmul: gemm checks its output tensor") {
    const Tensor a = zeros({2, 3}), b = zeros({3, 4});
    Tensor wrong = zeros({2, 5});
    CHECK_THROWS_WITH_AS(gemm_blocked(a, b, wrong),
                         "gemm_blocked: c has shape (2, 5), expected (2, 4) for (2, 3) @ (3, 4)",
                         ShapeError);
    Tensor strided = zeros({4, 2}).transpose(0, 1);
    CHECK_THROWS_WITH_AS(gemm_naive(a, b, strided), "gemm_naive: c must be contiguous",
                         std::invalid_argument);
    Tensor c = zeros({2, 4});
    CHECK_THROWS_WITH_AS(gemm_blocked(zeros({2, 3, 1}), b, c),
                         "gemm_blocked: expected 2-d a and b, got (2, 3, 1) and (3, 4)",
                         ShapeError);
    Tensor square = zeros({3, 3});
    CHECK_THROWS_WITH_AS(gemm_blocked(square, square, square),
                         "gemm_blocked: c must not share storage with a or b",
                         std::invalid_argument);
}

// ---- naive vs blocked ---------------------------------------------------------------------

TEST_CASE("matmul: naive and blocked agree on every M, N, K in {1, 3, 7, 17, 63, 64, 65}") {
    Generator gen(7);
    const int64_t sizes[] = {1, 3, 7, 17, 63, 64, 65};
    for (int64_t M : sizes)
        for (int64_t N : sizes)
            for (int64_t K : sizes)
                check_naive_and_blocked_agree(randn({M, K}, gen), randn({K, N}, gen));
}

TEST_CASE("matmul: naive and blocked agree when a size is 577 (several K blocks, tile edges)") {
    Generator gen(8);
    const Shape shapes[] = {
        {577, 64, 65}, {63, 577, 17}, {17, 65, 577}, {64, 577, 64}, {1, 577, 577}};
    for (const Shape& s : shapes)  // (M, K, N)
        check_naive_and_blocked_agree(randn({s[0], s[1]}, gen), randn({s[1], s[2]}, gen));
}

TEST_CASE("matmul: non-contiguous operands (transposed, sliced with a step, expanded)") {
    Generator gen(9);
    const Tensor base_a = randn({40, 70}, gen), base_b = randn({90, 50}, gen);
    const Tensor a_t = base_a.transpose(0, 1);                  // (70, 40), strides (1, 70)
    const Tensor b_step = base_b.slice(0, 0, 80, 2);            // (40, 50), every other row
    const Tensor b_cols = base_b.slice(1, 1, 50, 3);            // (90, 17), every third column
    const Tensor b_row = randn({1, 33}, gen).expand({40, 33});  // stride 0 rows
    REQUIRE_FALSE(a_t.is_contiguous());
    REQUIRE_FALSE(b_step.is_contiguous());
    for (Kernel k : kBoth) {
        check_close(matmul(a_t, b_step, k), matmul(a_t.contiguous(), b_step.contiguous(), k), 0, 0);
        check_close(matmul(base_b.transpose(0, 1), b_cols, k),
                    matmul(base_b.transpose(0, 1).contiguous(), b_cols.contiguous(), k), 0, 0);
        check_close(matmul(a_t, b_row, k), matmul(a_t, b_row.contiguous(), k), 0, 0);
        // A Linear layer's x @ W^T with a batch: (2, 70, 40) @ (40, 30) where W is (30, 40).
        const Tensor w = randn({30, 40}, gen), x = randn({2, 70, 40}, gen);
        check_close(matmul(x, w.transpose(0, 1), k), matmul(x, w.transpose(0, 1).contiguous(), k),
                    0, 0);
    }
    check_naive_and_blocked_agree(a_t, b_step);
    check_naive_and_blocked_agree(base_b.transpose(0, 1), b_cols);
    check_naive_and_blocked_agree(a_t, b_row);
}

TEST_CASE("matmul: blocked gives bit-identical results with 1 and 2 threads") {
    Generator gen(10);
    // Tall (threads split rows), wide (threads split columns), and ragged.
    const Shape shapes[] = {{577, 96, 64}, {20, 130, 577}, {131, 300, 131}};
    for (const Shape& s : shapes) {
        const Tensor a = randn({s[0], s[1]}, gen), b = randn({s[1], s[2]}, gen);
        Tensor one, two;
        {
            ThreadsForTest t(1);
            one = matmul_blocked(a, b);
        }
        {
            ThreadsForTest t(2);
            two = matmul_blocked(a, b);
        }
        CHECK(max_abs_diff(one, two) == 0.0f);
        check_naive_and_blocked_agree(a, b);
    }
}

TEST_CASE("matmul: gemm_blocked overwrites c, whatever it held") {
    Generator gen(11);
    const Tensor a = randn({13, 300}, gen), b = randn({300, 33}, gen);
    Tensor c = full({13, 33}, NAN);
    gemm_blocked(a, b, c);
    check_close(c, matmul_naive(a, b), 1e-4f, 1e-4f);
}

// ---- PyTorch ------------------------------------------------------------------------------

TEST_CASE("matmul: matches torch.matmul") {
    const auto f = fixture("matmul");
    const char* cases[] = {"mm",        "dot",       "vec_mat",   "mat_vec",   "bmm",   "broadcast",
                           "batch_mat", "mat_batch", "vec_batch", "batch_vec", "edges", "empty_k"};
    for (Kernel k : kBoth)
        for (const std::string name : cases) {
            INFO("case ", name, ", kernel ", to_string(k));
            check_close(matmul(f[name + ".a"], f[name + ".b"], k), f[name + ".out"], 1e-4f, 1e-4f);
        }
    for (Kernel k : kBoth)
        check_close(matmul(f["transposed.a"].transpose(0, 1), f["transposed.b"], k),
                    f["transposed.out"], 1e-4f, 1e-4f);
}
