// test_linear.cpp: linear(x, weight, bias), the bias added inside the blocked matmul.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/ops.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::ThreadsForTest;

TEST_CASE("linear: the fused bias gives the bits of matmul_blocked then += bias") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // (M, K, N): one block of K and several (K > 256), ragged tiles (N not a multiple of 16,
        // M not of 6), a single row.
        Generator gen(21);
        const Shape shapes[] = {
            {1, 7, 5}, {13, 300, 35}, {577, 64, 48}, {20, 600, 577}, {6, 16, 16}};
        for (const Shape& s : shapes) {
            const Tensor x = randn({s[0], s[1]}, gen), w = randn({s[2], s[1]}, gen),
                         b = randn({s[2]}, gen);
            for (int threads : {1, 2}) {
                ThreadsForTest t(threads);
                Tensor want = matmul_blocked(x, w.transpose(0, 1));
                want += b;
                CHECK(max_abs_diff(linear(x, w, b, Kernel::Blocked), want) == 0.0f);
                const PackedB packed = pack_b(w.transpose(0, 1));
                CHECK(max_abs_diff(linear(x, packed, b), want) == 0.0f);
                CHECK(max_abs_diff(linear(x, w, Tensor(), Kernel::Blocked),
                                   matmul_blocked(x, w.transpose(0, 1))) == 0.0f);
            }
            check_close(linear(x, w, b, Kernel::Blocked), linear(x, w, b, Kernel::Naive), 1e-4f,
                        1e-4f);
        }
    }
}

TEST_CASE("linear: keeps leading dims; no inputs features means y = bias") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(22);
        const Tensor x = randn({2, 3, 4}, gen), w = randn({5, 4}, gen), b = randn({5}, gen);
        for (Kernel k : {Kernel::Naive, Kernel::Blocked}) {
            const Tensor y = linear(x, w, b, k);
            CHECK(y.shape() == Shape{2, 3, 5});
            check_close(y.select(0, 1).select(0, 2), linear(x.select(0, 1).select(0, 2), w, b, k));
            // in_features = 0: an empty sum, so every row is the bias
            const Tensor y0 = linear(empty({3, 0}), empty({5, 0}), b, k);
            check_close(y0, b.expand({3, 5}).contiguous(), 0.0f, 0.0f);
        }
    }
}

TEST_CASE("linear: wrong shapes name what was expected") {
    const Tensor x = ones({2, 4}), w = ones({5, 4});
    CHECK_THROWS_WITH_AS(linear(x, w, ones({4})),
                         "linear: expected bias of shape (5,) or none, got (4,)", ShapeError);
    CHECK_THROWS_WITH_AS(linear(ones({2, 3}), w, ones({5})),
                         "linear: input (2, 3) does not end in in_features = 4 of weight (5, 4)",
                         ShapeError);
    CHECK_THROWS_WITH_AS(linear(x, ones({4}), ones({5})),
                         "linear: expected a 2-d weight (out, in), got (4,)", ShapeError);
    CHECK_THROWS_AS(linear(x, pack_b(w.transpose(0, 1)), ones({5, 1})), ShapeError);
}
