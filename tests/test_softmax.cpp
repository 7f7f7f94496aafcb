// test_softmax.cpp: softmax along any dim, naive and blocked (tensor/ops/softmax.h).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

const float kInf = std::numeric_limits<float>::infinity();

// Both implementations, so every behaviour below is checked on each.
const Kernel kKernels[] = {Kernel::Naive, Kernel::Blocked};

// Sum of out along dim at every other index, computed with at() (independent of the kernels).
std::vector<float> sums_along(const Tensor& out, int64_t dim) {
    const int64_t d = dim < 0 ? dim + out.dim() : dim;
    Shape rest = out.shape();
    rest[d] = 1;
    std::vector<float> sums;
    for_each_index(rest, [&](const std::vector<int64_t>& index) {
        std::vector<int64_t> i = index;
        float s = 0.0f;
        for (i[d] = 0; i[d] < out.size(d); ++i[d]) s += out.at(i);
        sums.push_back(s);
    });
    return sums;
}

// Blocked within 1e-6 of naive (the tolerance softmax.h promises).
void check_kernels_agree(const Tensor& x, int64_t dim) {
    INFO("x ", to_string(x.shape()), " strides ", to_string(x.strides()), " dim ", dim);
    check_close(softmax_blocked(x, dim), softmax_naive(x, dim), 1e-6f, 0.0f);
}

}  // namespace

TEST_CASE("softmax: [1, 2, 3] gives e^i / (e + e^2 + e^3)") {
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        const Tensor out = softmax(from_vector({1, 2, 3}, {3}), 0, k);
        // 1 / (1 + e + e^2) = 0.09003057, then times e and e^2.
        check_close(out, from_vector({0.09003057f, 0.24472847f, 0.66524096f}, {3}), 1e-7f, 1e-6f);
    }
}

TEST_CASE("softmax: every row sums to 1 and a larger input gets a larger probability") {
    Generator gen(1);
    const Tensor x = randn({6, 65}, gen);
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        const Tensor out = softmax(x, -1, k);
        for (float s : sums_along(out, -1)) CHECK(s == doctest::Approx(1.0f).epsilon(1e-5));
        for (int64_t r = 0; r < 6; ++r)
            for (int64_t i = 1; i < 65; ++i)
                CHECK((x.at({r, i}) > x.at({r, i - 1})) == (out.at({r, i}) > out.at({r, i - 1})));
    }
}

TEST_CASE("softmax: over a size-1 dim every value is 1, and a 0-d tensor gives 1") {
    Generator gen(2);
    const Tensor x = randn({3, 1, 4}, gen) * 100.0f;
    for (Kernel k : kKernels) {
        CAPTURE(to_string(k));
        check_close(softmax(x, 1, k), ones({3, 1, 4}), 0.0f, 0.0f);
        const Tensor s = softmax(full({}, -7.5f), -1, k);
        CHECK(s.dim() == 0);
        CHECK(s.item() == 1.0f);
    }
}

TEST_CASE("softmax: huge inputs do not overflow into NaN") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        for (Kernel k : kKernels) {
            CAPTURE(to_string(k));
            check_close(softmax(from_vector({1000, 1000, -1000}, {3}), 0, k),
                        from_vector({0.5f, 0.5f, 0.0f}, {3}), 0.0f, 1e-6f);
            check_close(softmax(from_vector({1e30f, 0, -1e30f}, {3}), 0, k),
                        from_vector({1, 0, 0}, {3}), 0.0f, 0.0f);
            check_close(softmax(from_vector({-1e30f, -1e30f}, {2}), 0, k),
                        from_vector({0.5f, 0.5f}, {2}), 0.0f, 1e-6f);
            // x - max = -6e38 rounds to -inf in float: still exactly 0, not NaN.
            check_close(softmax(from_vector({3e38f, -3e38f}, {2}), 0, k), from_vector({1, 0}, {2}),
                        0.0f, 0.0f);
        }
    }
}

TEST_CASE("softmax: -inf entries get probability 0; a row of only -inf gives NaN as in PyTorch") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // 19 entries: more than two AVX2 registers, so the SIMD body and the tail both see -inf.
        std::vector<float> v(19);
        for (size_t i = 0; i < v.size(); ++i)
            v[i] = i % 3 == 0 ? -kInf : 0.5f * static_cast<float>(i);
        const Tensor x = from_vector(v, {19});
        const double max = 8.5;  // v[17]; v[18] is -inf
        double sum = 0.0;
        for (float e : v) sum += std::exp(e - max);
        std::vector<float> expected(v.size());
        for (size_t i = 0; i < v.size(); ++i)
            expected[i] = static_cast<float>(std::exp(v[i] - max) / sum);
        for (Kernel k : kKernels) {
            CAPTURE(to_string(k));
            check_close(softmax(x, 0, k), from_vector(expected, {19}), 1e-7f, 1e-6f);
            check_close(softmax(from_vector({-kInf, 0, 0}, {3}), 0, k),
                        from_vector({0.0f, 0.5f, 0.5f}, {3}), 0.0f, 1e-6f);
            const Tensor all_inf = softmax(full({2, 5}, -kInf), 1, k);
            for (float p : all_inf.to_vector()) CHECK(std::isnan(p));
        }
    }
}

TEST_CASE("softmax: works on every dim of a 3-D tensor, negative dims included") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(3);
        const Tensor x = randn({4, 5, 6}, gen) * 2.0f;
        for (Kernel k : kKernels) {
            CAPTURE(to_string(k));
            for (int64_t dim = 0; dim < 3; ++dim) {
                CAPTURE(dim);
                const Tensor out = softmax(x, dim, k);
                CHECK(out.shape() == x.shape());
                for (float s : sums_along(out, dim))
                    CHECK(s == doctest::Approx(1.0f).epsilon(1e-5));
                check_close(softmax(x, dim - 3, k), out, 0.0f, 0.0f);  // -3, -2, -1 are 0, 1, 2
                // Softmax along dim is unchanged by adding a constant along that dim.
                check_close(softmax(x + 5.0f, dim, k), out, 1e-6f, 1e-5f);
            }
            for (int64_t dim = 0; dim < 3; ++dim) check_kernels_agree(x, dim);
        }
    }
}

TEST_CASE("softmax: blocked matches naive on rows of length 1, 3, 7, 17, 63, 64, 65, 577") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(4);
        for (int64_t n : {1, 3, 7, 17, 63, 64, 65, 577}) {
            CAPTURE(n);
            const Tensor x = randn({5, n}, gen) * 4.0f;
            check_kernels_agree(x, -1);  // contiguous rows
            check_kernels_agree(x, 0);   // columns of width n
            check_kernels_agree(randn({n, 5}, gen), 0);
            // dim in the middle, with 70 columns: one full block of 64 and a partial one.
            check_kernels_agree(randn({3, n, 70}, gen), 1);
        }
    }
}

TEST_CASE("softmax: blocked keeps 1e-6 relative accuracy, even for tiny probabilities") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // Row r is [0, -t] with t = r / 100 up to 87: out[1] = exp(-t) / (1 + exp(-t)) runs down
        // to 1e-38, so this checks the blocked kernel's own exp relative to std::exp everywhere.
        const int64_t rows = 8701;
        Tensor x = zeros({rows, 2});
        for (int64_t r = 0; r < rows; ++r) x.at({r, 1}) = -0.01f * static_cast<float>(r);
        check_close(softmax_blocked(x, 1), softmax_naive(x, 1), 0.0f, 1e-6f);
        const Tensor xt = x.transpose(0, 1).contiguous();  // the same rows as columns
        check_close(softmax_blocked(xt, 0), softmax_naive(xt, 0), 0.0f, 1e-6f);
    }
}

TEST_CASE("softmax: blocked matches naive for 1 to 5 rows, in place and not") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // The blocked kernel overlaps the passes of neighbouring rows: the first and last rows of
        // a block take other paths than the middle ones.
        Generator gen(10);
        for (int64_t rows = 1; rows <= 5; ++rows)
            for (int64_t n : {3, 8, 577}) {
                CAPTURE(rows);
                CAPTURE(n);
                const Tensor x = randn({rows, n}, gen) * 5.0f;
                const Tensor want = softmax_naive(x, -1);
                check_close(softmax_blocked(x, -1), want, 1e-6f, 0.0f);
                Tensor y = x.clone();
                softmax_(y, -1);
                check_close(y, want, 1e-6f, 0.0f);
            }
    }
}

TEST_CASE("softmax: transposed and sliced inputs give the softmax of their contiguous copy") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(5);
        const Tensor base = randn({17, 65}, gen);
        const Tensor views[] = {
            base.transpose(0, 1),                   // (65, 17), strides (1, 65)
            base.slice(1, 1, 64, 2),                // every other column
            base.slice(0, 3, 10).slice(1, 0, 60),   // a block, rows 65 apart
            base.select(1, 7),                      // one column, stride 65
            base.unsqueeze(0).expand({3, 17, 65}),  // stride 0 on dim 0
        };
        for (const Tensor& v : views) {
            CAPTURE(to_string(v.shape()));
            CHECK_FALSE(v.is_contiguous());
            for (int64_t dim = 0; dim < v.dim(); ++dim) {
                for (Kernel k : kKernels)
                    check_close(softmax(v, dim, k), softmax(v.clone(), dim, k), 0.0f, 0.0f);
                check_kernels_agree(v, dim);
            }
        }
    }
}

TEST_CASE("softmax: large inputs split across threads agree with naive") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(6);
        check_kernels_agree(randn({4, 33, 577}, gen) * 3.0f, -1);  // 76k elements, rows
        check_kernels_agree(randn({577, 40}, gen), 0);             // 23k elements, columns
    }
}

TEST_CASE("softmax: empty tensors give empty results") {
    for (Kernel k : kKernels) {
        CHECK(softmax(zeros({0, 5}), 1, k).shape() == Shape{0, 5});
        CHECK(softmax(zeros({3, 0}), 1, k).shape() == Shape{3, 0});
        CHECK(softmax(zeros({3, 0, 2}), 2, k).shape() == Shape{3, 0, 2});
    }
}

TEST_CASE("softmax: a dim out of range throws IndexError naming softmax and the rank") {
    const Tensor x = zeros({2, 3});
    for (Kernel k : kKernels) {
        CHECK_THROWS_WITH_AS(softmax(x, 2, k),
                             doctest::Contains("softmax: dim 2 is out of range for a tensor of "
                                               "rank 2"),
                             IndexError);
        CHECK_THROWS_WITH_AS(softmax(x, -3, k), doctest::Contains("softmax: dim -3"), IndexError);
        CHECK_THROWS_AS(softmax(full({}, 1.0f), 1, k), IndexError);
    }
}

TEST_CASE("softmax: Tensor::softmax and Kernel::Default follow the process-wide kernel") {
    Generator gen(7);
    const Tensor x = randn({8, 577}, gen) * 10.0f;
    const Tensor naive = softmax_naive(x, -1), blocked = softmax_blocked(x, -1);
    set_default_kernel(Kernel::Naive);
    check_close(x.softmax(-1), naive, 0.0f, 0.0f);
    check_close(softmax(x, -1), naive, 0.0f, 0.0f);
    set_default_kernel(Kernel::Blocked);
    check_close(x.softmax(-1), blocked, 0.0f, 0.0f);
    check_close(softmax(x, -1), blocked, 0.0f, 0.0f);
    check_close(softmax(x, -1, Kernel::Naive), naive, 0.0f, 0.0f);
}

TEST_CASE("softmax: matches torch.softmax on several dims and extreme values") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        const auto f = fixture("softmax");
        for (const char* name : {"last", "dim0", "dim1", "neg2", "scaled", "extreme"}) {
            const std::string c = name;
            CAPTURE(c);
            const Tensor& x = f[c + ".x"];
            const auto dim = static_cast<int64_t>(f[c + ".dim"].item());
            for (Kernel k : kKernels) {
                CAPTURE(to_string(k));
                check_close(softmax(x, dim, k), f[c + ".out"], 1e-7f, 1e-5f);
            }
        }
    }
}

TEST_CASE("softmax: softmax_ writes softmax_blocked over x and returns x") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(8);
        for (int64_t dim : {-1, 0, 1}) {
            CAPTURE(dim);
            Tensor x = randn({7, 65}, gen) * 3.0f;
            const Tensor want = softmax_blocked(x, dim);
            const float* before = x.data();
            Tensor& result = softmax_(x, dim);
            CHECK(&result == &x);
            CHECK(x.data() == before);  // in place, no new storage
            check_close(x, want, 0.0f, 0.0f);
        }
        Tensor scalar = full({}, 3.0f);
        CHECK(softmax_(scalar, 0).item() == 1.0f);
        Tensor empty_rows = zeros({0, 4});
        CHECK(softmax_(empty_rows, -1).shape() == Shape{0, 4});
        // Large: rows split across threads (each thread pipelines its own rows only).
        Tensor big = randn({12, 61, 577}, gen) * 4.0f;
        const Tensor want = softmax_naive(big, -1);
        softmax_(big, -1);
        check_close(big, want, 1e-6f, 0.0f);
    }
}

TEST_CASE("softmax: softmax_ on a view writes through to its base") {
    Generator gen(9);
    Tensor base = randn({6, 10}, gen);
    const Tensor original = base.clone();
    Tensor view = base.slice(1, 2, 8).transpose(0, 1);  // (6, 6), not contiguous
    REQUIRE_FALSE(view.is_contiguous());
    const Tensor want = softmax_naive(view, 1);
    softmax_(view, 1);
    check_close(view, want, 1e-6f, 0.0f);
    check_close(base.slice(1, 2, 8).transpose(0, 1), want, 1e-6f, 0.0f);
    check_close(base.slice(1, 0, 2), original.slice(1, 0, 2), 0.0f, 0.0f);  // untouched
    check_close(base.slice(1, 8, 10), original.slice(1, 8, 10), 0.0f, 0.0f);
}

TEST_CASE("softmax: softmax_ refuses an expanded view and a bad dim") {
    Tensor expanded = ones({1, 5}).expand({3, 5});
    CHECK_THROWS_WITH_AS(softmax_(expanded, -1), doctest::Contains("softmax_: cannot write"),
                         std::invalid_argument);
    Tensor x = zeros({2, 3});
    CHECK_THROWS_WITH_AS(softmax_(x, 2), doctest::Contains("softmax_: dim 2 is out of range"),
                         IndexError);
}
