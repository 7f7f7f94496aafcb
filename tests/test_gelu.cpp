// test_gelu.cpp: GELU, exact and tanh-approximated (tensor/ops/gelu.h).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {
const GeluApproximate kModes[] = {GeluApproximate::None, GeluApproximate::Tanh};
}

TEST_CASE("gelu: x * Phi(x) at a few points, exact and tanh") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // Phi(1) = 0.8413447, Phi(2) = 0.9772499, Phi(0.5) = 0.6914625, Phi(-3) = 0.0013499
        const Tensor x = from_vector({0, 1, -1, 2, 0.5f, -3}, {6});
        check_close(
            gelu(x),
            from_vector({0, 0.8413447f, -0.1586553f, 1.9544997f, 0.3457312f, -0.0040499f}, {6}),
            1e-6f, 1e-5f);
        // The tanh form is within ~5e-4 of the exact one, and off in the 4th digit here.
        check_close(
            gelu(x, GeluApproximate::Tanh),
            from_vector({0, 0.8411920f, -0.1588080f, 1.9545977f, 0.3457140f, -0.0036374f}, {6}),
            1e-6f, 1e-5f);
    }
}

TEST_CASE("gelu: gelu(x) - gelu(-x) = x, since Phi(x) + Phi(-x) = 1") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(1);
        const Tensor x = randn({7, 65}, gen) * 3.0f;
        for (GeluApproximate mode : kModes)
            check_close(gelu(x, mode) - gelu(-x, mode), x, 1e-5f, 1e-5f);
    }
}

TEST_CASE("gelu: huge |x| gives x or 0, never NaN") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        const Tensor x = from_vector({-1e30f, -1e4f, -20, 20, 1e4f, 1e30f}, {6});
        const Tensor expected = from_vector({0, 0, 0, 20, 1e4f, 1e30f}, {6});
        for (GeluApproximate mode : kModes) {
            const Tensor out = gelu(x, mode);
            check_close(out, expected, 1e-6f, 0.0f);
            for (float v : out.to_vector()) CHECK_FALSE(std::isnan(v));
        }
        // +inf stays inf; -inf is inf * 0 = NaN, as in PyTorch.
        const float inf = std::numeric_limits<float>::infinity();
        CHECK(gelu(full({1}, inf)).item() == inf);
        CHECK(std::isnan(gelu(full({1}, -inf)).item()));
    }
}

TEST_CASE("gelu: the largest finite floats give x or 0, without overflow") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        const float big = std::numeric_limits<float>::max();
        const Tensor x = from_vector({-big, -3e38f, 3e38f, big}, {4});
        check_close(gelu_blocked(x), from_vector({0, 0, 3e38f, big}, {4}), 0.0f, 0.0f);
    }
}

TEST_CASE("gelu: keeps the shape and reads non-contiguous inputs") {
    Generator gen(2);
    const Tensor x = randn({17, 65}, gen);
    for (GeluApproximate mode : kModes) {
        const Tensor t = gelu(x.transpose(0, 1), mode);
        CHECK(t.shape() == Shape{65, 17});
        check_close(t, gelu(x, mode).transpose(0, 1), 0.0f, 0.0f);
        check_close(gelu(x.slice(1, 1, 65, 3), mode), gelu(x, mode).slice(1, 1, 65, 3), 0.0f, 0.0f);
    }
    CHECK(gelu(zeros({0, 3})).shape() == Shape{0, 3});
    CHECK(gelu(full({}, 1.0f)).item() == doctest::Approx(0.8413447f));
}

TEST_CASE("gelu: a large tensor split across threads equals its pieces") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(3);
        const Tensor x = randn({300, 100}, gen) * 5.0f;
        const Tensor out = gelu(x);
        for (int64_t r : {0, 150, 299})
            check_close(out.select(0, r), gelu(x.select(0, r)), 0.0f, 0.0f);
    }
}

TEST_CASE("gelu: matches F.gelu, exact and approximate='tanh', on [-12, 12] and beyond") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        const auto f = fixture("gelu");
        for (const char* name : {"range", "random"}) {
            const std::string c = name;
            CAPTURE(c);
            check_close(gelu(f[c + ".x"]), f[c + ".exact"], 1e-6f, 1e-5f);
            check_close(gelu(f[c + ".x"], GeluApproximate::Tanh), f[c + ".tanh"], 1e-6f, 1e-5f);
        }
    }
}

TEST_CASE("gelu: blocked matches naive on lengths 1, 3, 7, 17, 63, 64, 65, 577 and on views") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(4);
        for (int64_t n : {1, 3, 7, 17, 63, 64, 65, 577}) {
            CAPTURE(n);
            const Tensor x = randn({3, n}, gen) * 4.0f;
            for (GeluApproximate mode : kModes) {
                check_close(gelu_blocked(x, mode), gelu_naive(x, mode), 1e-6f, 0.0f);
                // Transposed: the blocked kernel reads a contiguous copy.
                check_close(gelu_blocked(x.transpose(0, 1), mode),
                            gelu_naive(x.transpose(0, 1), mode), 1e-6f, 0.0f);
            }
        }
        // Large enough to be split across threads, with a tail that is not a whole register.
        const Tensor big = randn({577, 61}, gen) * 6.0f;
        check_close(gelu_blocked(big), gelu_naive(big), 1e-6f, 0.0f);
        check_close(gelu_blocked(big.slice(1, 1, 61, 2)), gelu_naive(big.slice(1, 1, 61, 2)), 1e-6f,
                    0.0f);
    }
}

TEST_CASE("gelu: the blocked kernel keeps tiny inputs' relative accuracy and their sign") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // gelu(x) = x/2 + x^2 / sqrt(2 pi) + ... for tiny x: no absolute error floor near 0.
        const Tensor x = from_vector({1e-20f, -1e-20f, 1e-8f, -1e-8f, 0.0f}, {5});
        const Tensor out = gelu_blocked(x);
        check_close(out, from_vector({5e-21f, -5e-21f, 5e-9f, -5e-9f, 0.0f}, {5}), 0.0f, 1e-6f);
    }
}

TEST_CASE("gelu: Kernel::Default follows the process-wide kernel") {
    Generator gen(5);
    const Tensor x = randn({4, 100}, gen) * 3.0f;
    const Tensor naive = gelu_naive(x), blocked = gelu_blocked(x);
    CHECK(max_abs_diff(naive, blocked) > 0.0f);  // else this test could not tell them apart
    set_default_kernel(Kernel::Naive);
    check_close(gelu(x), naive, 0.0f, 0.0f);
    set_default_kernel(Kernel::Blocked);
    check_close(gelu(x), blocked, 0.0f, 0.0f);
    check_close(gelu(x, GeluApproximate::None, Kernel::Naive), naive, 0.0f, 0.0f);
}

TEST_CASE("gelu_: writes gelu(x) over x, bit for bit, in both kernels and on views") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(6);
        // Split across threads, with a tail that is not a whole register.
        const Tensor x = randn({577, 61}, gen) * 5.0f;
        for (Kernel kernel : {Kernel::Naive, Kernel::Blocked})
            for (GeluApproximate mode : kModes) {
                CAPTURE(to_string(kernel));
                Tensor y = x.clone();
                const float* before = y.data();
                Tensor& same = gelu_(y, mode, kernel);
                CHECK(&same == &y);
                CHECK(y.data() == before);  // no new storage: the activations exist once
                check_close(y, gelu(x, mode, kernel), 0.0f, 0.0f);
                // A strided view: only its elements change.
                Tensor z = x.clone();
                Tensor odd = z.slice(1, 1, 61, 2);
                gelu_(odd, mode, kernel);
                check_close(z.slice(1, 1, 61, 2), gelu(x.slice(1, 1, 61, 2), mode, kernel), 0.0f,
                            0.0f);
                check_close(z.slice(1, 0, 61, 2), x.slice(1, 0, 61, 2), 0.0f, 0.0f);
            }
    }
}

TEST_CASE("gelu_: refuses an expanded view and a leaf that requires grad") {
    Tensor expanded = zeros({1, 4}).expand({3, 4});
    CHECK_THROWS_WITH_AS(gelu_(expanded), doctest::Contains("gelu_"), std::invalid_argument);
    Tensor leaf = zeros({2, 3}).requires_grad_();
    CHECK_THROWS_AS(gelu_(leaf), AutogradError);
}
