// test_matmul.cpp: matmul's rank rules, errors, and naive vs blocked agreement (matmul.h).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/linear.h"
#include "tensor/ops/matmul_ladder.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;
using vitlab::testing::ThreadsForTest;

namespace {

const Kernel kBoth[] = {Kernel::Naive, Kernel::Blocked};

Tensor abs_of(const Tensor& x) {
    return map(x, [](float v) { return std::fabs(v); });
}

// matmul.h's tolerance: for every element, |got - naive| <= 1e-4 * sum_p |a_ip b_pj|.
void check_agrees_with_naive(const Tensor& a, const Tensor& b, const Tensor& got,
                             const char* what) {
    const Tensor want = matmul_naive(a, b);
    REQUIRE(got.shape() == want.shape());
    const Tensor scale = matmul_naive(abs_of(a), abs_of(b));
    const auto g = got.to_vector(), w = want.to_vector(), s = scale.to_vector();
    for (size_t i = 0; i < g.size(); ++i) {
        if (std::fabs(g[i] - w[i]) <= 1e-4f * s[i]) continue;
        FAIL_CHECK("element ", i, " of ", to_string(want.shape()), " for ", to_string(a.shape()),
                   " @ ", to_string(b.shape()), ": ", what, " ", g[i], ", naive ", w[i],
                   ", sum |a b| ", s[i]);
        return;
    }
}

void check_naive_and_blocked_agree(const Tensor& a, const Tensor& b) {
    check_agrees_with_naive(a, b, matmul_blocked(a, b), "blocked");
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
                         "matmul: cannot multiply (3,) by (4,): 3 != 4", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({2, 4, 5})),
                         "matmul: cannot multiply (3,) by (2, 4, 5): 3 != 4", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({5}), Kernel::Naive),
                         "matmul: cannot multiply (2, 3, 4) by (5,): 4 != 5", ShapeError);
}

TEST_CASE("matmul: batch dims that do not broadcast are named") {
    CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4, 5}), zeros({4, 5, 6})),
                         "matmul: cannot multiply (2, 3, 4, 5) by (4, 5, 6): batch dims (2, 3) "
                         "and (4,) do not broadcast (3 != 4)",
                         ShapeError);
}

TEST_CASE("matmul: a 0-d operand is rejected") {
    CHECK_THROWS_WITH_AS(matmul(full({}, 2), zeros({3})),
                         "matmul: both arguments need at least 1 dim, got () and (3,)", ShapeError);
    CHECK_THROWS_WITH_AS(matmul(zeros({3}), full({}, 2)),
                         "matmul: both arguments need at least 1 dim, got (3,) and ()", ShapeError);
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
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(7);
        const int64_t sizes[] = {1, 3, 7, 17, 63, 64, 65};
        for (int64_t M : sizes)
            for (int64_t N : sizes)
                for (int64_t K : sizes)
                    check_naive_and_blocked_agree(randn({M, K}, gen), randn({K, N}, gen));
    }
}

TEST_CASE("matmul: naive and blocked agree when a size is 577 (several K blocks, tile edges)") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(8);
        const Shape shapes[] = {
            {577, 64, 65}, {63, 577, 17}, {17, 65, 577}, {64, 577, 64}, {1, 577, 577}};
        for (const Shape& s : shapes)  // (M, K, N)
            check_naive_and_blocked_agree(randn({s[0], s[1]}, gen), randn({s[1], s[2]}, gen));
    }
}

TEST_CASE("matmul: non-contiguous operands (transposed, sliced with a step, expanded)") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(9);
        const Tensor base_a = randn({40, 70}, gen), base_b = randn({90, 50}, gen);
        const Tensor a_t = base_a.transpose(0, 1);                  // (70, 40), strides (1, 70)
        const Tensor b_step = base_b.slice(0, 0, 80, 2);            // (40, 50), every other row
        const Tensor b_cols = base_b.slice(1, 1, 50, 3);            // (90, 17), every third column
        const Tensor b_row = randn({1, 33}, gen).expand({40, 33});  // stride 0 rows
        REQUIRE_FALSE(a_t.is_contiguous());
        REQUIRE_FALSE(b_step.is_contiguous());
        for (Kernel k : kBoth) {
            check_close(matmul(a_t, b_step, k), matmul(a_t.contiguous(), b_step.contiguous(), k), 0,
                        0);
            check_close(matmul(base_b.transpose(0, 1), b_cols, k),
                        matmul(base_b.transpose(0, 1).contiguous(), b_cols.contiguous(), k), 0, 0);
            check_close(matmul(a_t, b_row, k), matmul(a_t, b_row.contiguous(), k), 0, 0);
            // A Linear layer's x @ W^T with a batch: (2, 70, 40) @ (40, 30) where W is (30, 40).
            const Tensor w = randn({30, 40}, gen), x = randn({2, 70, 40}, gen);
            check_close(matmul(x, w.transpose(0, 1), k),
                        matmul(x, w.transpose(0, 1).contiguous(), k), 0, 0);
        }
        check_naive_and_blocked_agree(a_t, b_step);
        check_naive_and_blocked_agree(base_b.transpose(0, 1), b_cols);
        check_naive_and_blocked_agree(a_t, b_row);
    }
}

TEST_CASE("matmul: blocked gives bit-identical results with 1 and 2 threads") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(10);
        // Tall (threads split rows), wide (threads split columns), and ragged; the 4th and 5th
        // are wide with K over one block (ragged too), the last has ragged K and N. b comes
        // row-major and as a transposed view (a Linear's weight^T, which the packers read
        // another way).
        const Shape shapes[] = {{577, 96, 64},   {20, 130, 577},  {131, 300, 131}, {97, 700, 400},
                                {61, 1100, 250}, {577, 768, 768}, {300, 333, 250}};
        for (const Shape& s : shapes) {
            const Tensor a = randn({s[0], s[1]}, gen);
            const Tensor b_rows = randn({s[1], s[2]}, gen);
            const Tensor b_cols = randn({s[2], s[1]}, gen).transpose(0, 1);
            for (const Tensor& b : {b_rows, b_cols}) {
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
                if (s[0] * s[1] * s[2] < 100'000'000) check_naive_and_blocked_agree(a, b);
            }
        }
    }
}

TEST_CASE("matmul: gemm_blocked overwrites c, whatever it held") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(11);
        const Tensor a = randn({13, 300}, gen), b = randn({300, 33}, gen);
        Tensor c = full({13, 33}, NAN);
        gemm_blocked(a, b, c);
        check_close(c, matmul_naive(a, b), 1e-4f, 1e-4f);
    }
}

// ---- the ladder (matmul_ladder.h) ---------------------------------------------------------

TEST_CASE("matmul: every rung of the ladder agrees with naive, edges and strides included") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(12);
        // (M, K, N): tile edges of the 4 x 8, 6 x 16 and 12 x 32 tiles, K across several blocks.
        const Shape shapes[] = {{1, 1, 1}, {3, 7, 17}, {17, 65, 63}, {65, 300, 33}, {7, 577, 64}};
        for (const MatmulRung& rung : matmul_ladder())
            for (const Shape& s : shapes) {
                INFO("rung ", rung.name);
                const Tensor a = randn({s[0], s[1]}, gen), b = randn({s[1], s[2]}, gen);
                Tensor c = full({s[0], s[2]}, NAN);  // every rung must overwrite c
                rung.gemm(a, b, c);
                check_agrees_with_naive(a, b, c, rung.name);
                const Tensor a_t = randn({s[1], s[0]}, gen).transpose(0, 1);  // non-contiguous
                rung.gemm(a_t, b, c);
                check_agrees_with_naive(a_t, b, c, rung.name);
            }
    }
}

TEST_CASE("matmul: the ladder is five named rungs ending with gemm_blocked") {
    const auto& rungs = matmul_ladder();
    REQUIRE(rungs.size() == 5);
    CHECK(std::string(rungs.front().name) == "ijk");
    CHECK(std::string(rungs.back().name) == "blocked");
    for (const MatmulRung& rung : rungs) CHECK(std::string(rung.adds).size() > 10);
}

TEST_CASE("matmul: ladder rungs check their arguments like gemm_naive") {
    Tensor c = empty({2, 5});
    CHECK_THROWS_WITH_AS(gemm_ikj(ones({2, 3}), ones({4, 5}), c),
                         doctest::Contains("gemm_ikj: cannot multiply (2, 3) by (4, 5)"),
                         ShapeError);
    Tensor empty_k = full({2, 5}, NAN);
    gemm_packed(ones({2, 0}), ones({0, 5}), empty_k);
    CHECK(empty_k.to_vector() == std::vector<float>(10, 0.0f));
}

// ---- b packed once (PackedB) ---------------------------------------------------------------

TEST_CASE("matmul: a packed b gives the same bits as matmul_blocked, any shape or strides") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(13);
        // The last two are a Linear's dx = dy @ W (a row-major b of 64 or 128 columns, K over
        // one or two blocks, ragged M), which runs on the wide tile where there is one.
        const Shape shapes[] = {{1, 1, 1},      {7, 3, 17},     {65, 300, 33}, {577, 577, 64},
                                {20, 130, 577}, {301, 192, 64}, {97, 64, 128}};
        for (const Shape& s : shapes) {  // (M, K, N)
            const Tensor a = randn({s[0], s[1]}, gen), b = randn({s[1], s[2]}, gen);
            const Tensor w = randn({s[2], s[1]}, gen);  // a Linear weight (N, K): b = w^T
            for (int threads : {1, 2}) {
                ThreadsForTest t(threads);
                CHECK(max_abs_diff(matmul(a, pack_b(b)), matmul_blocked(a, b)) == 0.0f);
                const Tensor wt = w.transpose(0, 1);
                CHECK(max_abs_diff(matmul(a, pack_b(wt)), matmul_blocked(a, wt)) == 0.0f);
            }
            check_agrees_with_naive(a, b, matmul(a, pack_b(b)), "packed");
        }
    }
}

TEST_CASE("matmul: b = W^T (a Linear weight) packs to the same panels as a contiguous copy") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // The blocked packer reads a transposed b 8 x 8 at a time; ragged K (not a multiple of 8,
        // or past one KC block) and ragged N (not a multiple of the tile) take the other paths.
        Generator gen(15);
        const Shape shapes[] = {{5, 13, 40}, {9, 300, 35}, {3, 257, 48}, {17, 64, 16}, {6, 8, 8}};
        for (const Shape& s : shapes) {  // (M, K, N)
            const Tensor a = randn({s[0], s[1]}, gen);
            const Tensor wt = randn({s[2], s[1]}, gen).transpose(0, 1);  // (K, N), strides (1, K)
            for (int threads : {1, 2}) {
                ThreadsForTest t(threads);
                CHECK(max_abs_diff(matmul_blocked(a, wt), matmul_blocked(a, wt.contiguous())) ==
                      0.0f);
                CHECK(max_abs_diff(matmul(a, pack_b(wt)), matmul_blocked(a, wt.contiguous())) ==
                      0.0f);
            }
            check_agrees_with_naive(a, wt, matmul_blocked(a, wt), "W^T");
        }
    }
}

TEST_CASE("matmul: a packed b takes a of shape (..., K) or (K)") {
    Generator gen(14);
    const Tensor b = randn({5, 3}, gen);
    const PackedB packed = pack_b(b);
    CHECK(packed.K == 5);
    CHECK(packed.N == 3);
    const Tensor x = randn({2, 4, 5}, gen);
    const Tensor y = matmul(x, packed);
    CHECK(y.shape() == Shape{2, 4, 3});
    check_close(y, matmul_naive(x, b), 1e-5f, 1e-5f);
    const Tensor v = randn({5}, gen);
    CHECK(matmul(v, packed).shape() == Shape{3});
    check_close(matmul(v, packed), matmul_naive(v, b), 1e-5f, 1e-5f);
    CHECK(matmul(randn({0, 5}, gen), packed).shape() == Shape{0, 3});
    CHECK(matmul(zeros({2, 0}), pack_b(zeros({0, 3}))).to_vector() == std::vector<float>(6, 0));
}

TEST_CASE("matmul: a packed b is a snapshot; writing into b later does not change it") {
    Tensor b = from_vector({1, 2, 3, 4}, {2, 2});
    const PackedB packed = pack_b(b);
    b.fill_(0.0f);
    CHECK(matmul(from_vector({1, 1}, {1, 2}), packed).to_vector() == std::vector<float>{4, 6});
}

TEST_CASE("matmul: a packed b names both shapes when they do not fit") {
    const PackedB packed = pack_b(ones({4, 10}));
    CHECK_THROWS_WITH_AS(
        matmul(ones({3, 5}), packed),
        doctest::Contains("matmul: cannot multiply (3, 5) by packed (4, 10): 5 != 4"), ShapeError);
    Tensor c = empty({3, 9});
    CHECK_THROWS_WITH_AS(gemm_blocked(ones({3, 4}), packed, c),
                         doctest::Contains("c has shape (3, 9), expected (3, 10)"), ShapeError);
    CHECK_THROWS_WITH_AS(pack_b(ones({4})), doctest::Contains("pack_b: expected a 2-d b"),
                         ShapeError);
}

// ---- a Linear's backward: dW = dy^T @ x and dbias read dy in place (gemm_tn) ---------------

namespace {

// linear_backward blocked against naive: dx and dW within matmul.h's tolerance, each dbias[j]
// within 1e-5 * sum_r |dy[r][j]| of the naive sum (which adds in double).
void check_linear_backward_agrees(const Tensor& dy, const Tensor& x, const Tensor& w,
                                  const LinearGrads& got) {
    const LinearGrads want = linear_backward(dy, x, w, true, Kernel::Naive);
    const Tensor dy2 = dy.reshape({-1, w.size(0)}), x2 = x.reshape({-1, w.size(1)});
    check_agrees_with_naive(dy2, w, got.dx.reshape({-1, w.size(1)}), "blocked dx");
    check_agrees_with_naive(dy2.transpose(0, 1), x2, got.dweight, "blocked dW");
    REQUIRE(got.dbias.shape() == want.dbias.shape());
    const auto g = got.dbias.to_vector(), n = want.dbias.to_vector();
    const auto scale = sum(abs_of(dy2), 0).to_vector();
    for (size_t j = 0; j < g.size(); ++j)
        CHECK_MESSAGE(std::fabs(g[j] - n[j]) <= 1e-5f * scale[j], "dbias[", j, "] ", g[j],
                      ", naive ", n[j]);
}

}  // namespace

TEST_CASE("linear_backward: blocked agrees with naive on ragged shapes, same bits on 2 threads") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", std::string(to_string(isa)));
        Generator gen(12);
        // (M, in, out): one row, one feature, tiles cut by every edge of dW, rows over several
        // blocks of the kernel (128 or 256 rows), exact tiles, and vit_fmnist's qkv and fc2.
        const Shape shapes[] = {{1, 1, 1},       {3, 5, 7},     {130, 33, 17},   {257, 32, 8},
                                {1000, 100, 10}, {700, 17, 65}, {6400, 64, 192}, {6400, 128, 64}};
        for (const Shape& s : shapes) {
            INFO("M, in, out = ", to_string(s));
            const Tensor x = randn({s[0], s[1]}, gen), w = randn({s[2], s[1]}, gen);
            const Tensor dy = randn({s[0], s[2]}, gen);
            LinearGrads one, two;
            {
                ThreadsForTest t(1);
                one = linear_backward(dy, x, w, true, Kernel::Blocked);
            }
            {
                ThreadsForTest t(2);
                two = linear_backward(dy, x, w, true, Kernel::Blocked);
            }
            check_linear_backward_agrees(dy, x, w, one);
            CHECK(max_abs_diff(one.dx, two.dx) == 0.0f);
            CHECK(max_abs_diff(one.dweight, two.dweight) == 0.0f);
            CHECK(max_abs_diff(one.dbias, two.dbias) == 0.0f);
        }
    }
}

TEST_CASE("linear_backward: strided dy and x give the bits of contiguous copies") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", std::string(to_string(isa)));
        Generator gen(13);
        const Tensor w = randn({20, 33}, gen);
        // dy (3, 70, 20) as a transposed view, x (3, 70, 33) every other column of a wider one.
        const Tensor dy = randn({3, 20, 70}, gen).transpose(1, 2);
        const Tensor x = randn({3, 70, 66}, gen).slice(2, 0, 66, 2);
        REQUIRE_FALSE(dy.is_contiguous());
        REQUIRE_FALSE(x.is_contiguous());
        const LinearGrads g = linear_backward(dy, x, w, true, Kernel::Blocked);
        const LinearGrads c =
            linear_backward(dy.contiguous(), x.contiguous(), w, true, Kernel::Blocked);
        CHECK(max_abs_diff(g.dx, c.dx) == 0.0f);
        CHECK(max_abs_diff(g.dweight, c.dweight) == 0.0f);
        CHECK(max_abs_diff(g.dbias, c.dbias) == 0.0f);
        check_linear_backward_agrees(dy, x, w, g);
    }
}

TEST_CASE("linear_backward: no rows gives zero dW and dbias; no inputs gives dbias alone") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", std::string(to_string(isa)));
        for (Kernel k : kBoth) {
            INFO("kernel ", std::string(to_string(k)));
            const LinearGrads none =
                linear_backward(ones({0, 4}), ones({0, 5}), ones({4, 5}), true, k);
            CHECK(none.dx.shape() == Shape{0, 5});
            check_close(none.dweight, zeros({4, 5}), 0, 0);
            check_close(none.dbias, zeros({4}), 0, 0);
            Generator gen(14);
            const Tensor dy = randn({300, 4}, gen);
            const LinearGrads no_in = linear_backward(dy, ones({300, 0}), ones({4, 0}), true, k);
            CHECK(no_in.dweight.shape() == Shape{4, 0});
            check_close(no_in.dbias, sum(dy, 0), 1e-5f, 1e-5f);
        }
    }
}

// ---- PyTorch ------------------------------------------------------------------------------

TEST_CASE("matmul: matches torch.matmul") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", std::string(to_string(isa)));
        const auto f = fixture("matmul");
        const char* cases[] = {"mm",        "dot",       "vec_mat",   "mat_vec",
                               "bmm",       "broadcast", "batch_mat", "mat_batch",
                               "vec_batch", "batch_vec", "edges",     "empty_k"};
        for (Kernel k : kBoth)
            for (const std::string name : cases) {
                INFO("case ", name, ", kernel ", to_string(k));
                check_close(matmul(f[name + ".a"], f[name + ".b"], k), f[name + ".out"], 1e-4f,
                            1e-4f);
            }
        for (Kernel k : kBoth)
            check_close(matmul(f["transposed.a"].transpose(0, 1), f["transposed.b"], k),
                        f["transposed.out"], 1e-4f, 1e-4f);
    }
}
