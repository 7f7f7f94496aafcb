// test_backward_gradcheck.cpp: every operator's backward against central differences.
//
// No PyTorch here: for L = sum(f(x) * w) with a fixed random w, each element x_i is moved by
// +-h and (L(x + h) - L(x - h)) / 2h is compared with the backward's dL/dx_i (dy = w). This is
// what catches a fixture written wrong, or the same mistake made in a formula and a fixture.
//
// Tolerance. f runs in float32, so each output carries a relative rounding error of about
// 6e-8; L sums n of them (in double here), an error of about sqrt(n) * 6e-8 * |w y|, which the
// difference divides by 2h. With h = 1e-2 and the small inputs below (n <= a few hundred, values
// of order 1) that is below 3e-5. The truncation error of the central difference is
// h^2 / 6 * f''' ~ 2e-5 for these smooth functions. The check allows
// |analytic - numeric| <= 5e-4 + 5e-3 * |numeric|, ten times both; a wrong formula (a
// forgotten term, a missing sum over a broadcast dim) is off by 1e-1 or more. Non-smooth
// spots (none in these inputs) would need a smaller h.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "tensor/ops.h"
#include "tests/backward_helpers.h"

using namespace vitlab;
using vitlab::testing::strided;

namespace {

using Inputs = std::vector<Tensor>;
using Forward = std::function<Tensor(const Inputs&)>;
using Backward = std::function<Inputs(const Tensor& dy, const Inputs&)>;

double weighted_sum(const Tensor& y, const Tensor& w) {
    const std::vector<float> a = y.to_vector(), b = w.to_vector();
    double s = 0.0;
    for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

// Checks backward(w, x)[t] against central differences of sum(forward(x) * w), for every
// input t listed in which (all when empty). The backward is also run on strided inputs.
void gradcheck(Inputs x, const Forward& forward, const Backward& backward, uint64_t seed,
               std::vector<size_t> which = {}) {
    for (Tensor& t : x) t = t.clone();  // ours to perturb
    Generator gen(seed);
    const Tensor w = randn(forward(x).shape(), gen);
    const Inputs analytic = backward(w, x);
    Inputs x_strided;
    for (const Tensor& t : x) x_strided.push_back(strided(t));
    const Inputs analytic_strided = backward(strided(w), x_strided);
    REQUIRE(analytic.size() == x.size());
    if (which.empty())
        for (size_t t = 0; t < x.size(); ++t) which.push_back(t);
    const float h = 1e-2f;
    for (size_t t : which) {
        CAPTURE(t);
        REQUIRE(analytic[t].shape() == x[t].shape());
        const std::vector<float> a = analytic[t].to_vector();
        const std::vector<float> as = analytic_strided[t].to_vector();
        float* p = x[t].data();
        double worst = 0.0;
        for (int64_t i = 0; i < x[t].numel(); ++i) {
            const float saved = p[i];
            p[i] = saved + h;
            const float up = p[i];
            const double l_up = weighted_sum(forward(x), w);
            p[i] = saved - h;
            const float down = p[i];
            const double l_down = weighted_sum(forward(x), w);
            p[i] = saved;
            const double numeric = (l_up - l_down) / (static_cast<double>(up) - down);
            const double err = std::abs(a[i] - numeric) - (5e-4 + 5e-3 * std::abs(numeric));
            if (err > worst) worst = err;
            CHECK_MESSAGE(err <= 0.0, "input ", t, " element ", i, ": backward ", a[i],
                          ", central difference ", numeric);
            CHECK(as[i] == doctest::Approx(a[i]).epsilon(1e-5).scale(1.0));
        }
    }
}

const Kernel kKernels[] = {Kernel::Naive, Kernel::Blocked};

}  // namespace

TEST_CASE("gradcheck: add, sub, mul, div with broadcasting") {
    Generator gen(1);
    const Inputs x{randn({2, 3, 4}, gen), randn({3, 1}, gen)};
    gradcheck(
        x, [](const Inputs& v) { return v[0] + v[1]; },
        [](const Tensor& dy, const Inputs& v) {
            const BinaryGrads g = add_backward(dy, v[0].shape(), v[1].shape());
            return Inputs{g.da, g.db};
        },
        10);
    gradcheck(
        x, [](const Inputs& v) { return v[0] - v[1]; },
        [](const Tensor& dy, const Inputs& v) {
            const BinaryGrads g = sub_backward(dy, v[0].shape(), v[1].shape());
            return Inputs{g.da, g.db};
        },
        11);
    gradcheck(
        {randn({1, 3, 1}, gen), randn({2, 1, 4}, gen)}, [](const Inputs& v) { return v[0] * v[1]; },
        [](const Tensor& dy, const Inputs& v) {
            const BinaryGrads g = mul_backward(dy, v[0], v[1]);
            return Inputs{g.da, g.db};
        },
        12);
    gradcheck(
        {randn({2, 3}, gen), rand_uniform({3}, gen, 1.0f, 2.0f)},
        [](const Inputs& v) { return v[0] / v[1]; },
        [](const Tensor& dy, const Inputs& v) {
            const BinaryGrads g = div_backward(dy, v[0], v[1]);
            return Inputs{g.da, g.db};
        },
        13);
}

TEST_CASE("gradcheck: sum and mean over one dim, with and without keepdim") {
    Generator gen(2);
    const Inputs x{randn({3, 4, 2}, gen)};
    for (bool keepdim : {false, true}) {
        CAPTURE(keepdim);
        gradcheck(
            x, [&](const Inputs& v) { return sum(v[0], 1, keepdim); },
            [&](const Tensor& dy, const Inputs& v) {
                return Inputs{sum_backward(dy, v[0].shape(), 1, keepdim)};
            },
            20);
        gradcheck(
            x, [&](const Inputs& v) { return mean(v[0], -1, keepdim); },
            [&](const Tensor& dy, const Inputs& v) {
                return Inputs{mean_backward(dy, v[0].shape(), -1, keepdim)};
            },
            21);
    }
}

TEST_CASE("gradcheck: matmul, batched with broadcasting and with 1-d operands") {
    Generator gen(3);
    const std::vector<Inputs> cases{
        {randn({3, 4}, gen), randn({4, 2}, gen)},
        {randn({2, 1, 3, 4}, gen), randn({3, 4, 2}, gen)},
        {randn({2, 3, 4}, gen), randn({4, 5}, gen)},
        {randn({4}, gen), randn({2, 4, 3}, gen)},
        {randn({2, 3, 4}, gen), randn({4}, gen)},
        {randn({4}, gen), randn({4}, gen)},
    };
    for (Kernel kernel : kKernels)
        for (const Inputs& x : cases) {
            CAPTURE(to_string(kernel));
            CAPTURE(to_string(x[0].shape()));
            CAPTURE(to_string(x[1].shape()));
            gradcheck(
                x, [](const Inputs& v) { return matmul(v[0], v[1], Kernel::Naive); },
                [&](const Tensor& dy, const Inputs& v) {
                    const MatmulGrads g = matmul_backward(dy, v[0], v[1], kernel);
                    return Inputs{g.da, g.db};
                },
                30);
        }
}

TEST_CASE("gradcheck: linear with and without bias") {
    Generator gen(4);
    for (Kernel kernel : kKernels) {
        CAPTURE(to_string(kernel));
        gradcheck(
            {randn({2, 3, 5}, gen), randn({4, 5}, gen), randn({4}, gen)},
            [](const Inputs& v) { return linear(v[0], v[1], v[2], Kernel::Naive); },
            [&](const Tensor& dy, const Inputs& v) {
                const LinearGrads g = linear_backward(dy, v[0], v[1], true, kernel);
                return Inputs{g.dx, g.dweight, g.dbias};
            },
            40);
        gradcheck(
            {randn({3, 5}, gen), randn({2, 5}, gen)},
            [](const Inputs& v) { return linear(v[0], v[1], Tensor(), Kernel::Naive); },
            [&](const Tensor& dy, const Inputs& v) {
                const LinearGrads g = linear_backward(dy, v[0], v[1], false, kernel);
                return Inputs{g.dx, g.dweight};
            },
            41);
    }
}

TEST_CASE("gradcheck: conv2d padded and strided, and a patch embedding with a ragged edge") {
    Generator gen(5);
    struct Case {
        Inputs x;
        int64_t stride, padding;
    };
    const std::vector<Case> cases{
        {{randn({2, 2, 5, 5}, gen), randn({3, 2, 3, 3}, gen), randn({3}, gen)}, 2, 1},
        {{randn({1, 2, 9, 10}, gen), randn({3, 2, 4, 4}, gen), randn({3}, gen)}, 4, 0},
    };
    for (Kernel kernel : kKernels)
        for (const Case& c : cases) {
            CAPTURE(to_string(kernel));
            CAPTURE(c.stride);
            gradcheck(
                c.x,
                [&](const Inputs& v) {
                    return conv2d_naive(v[0], v[1], v[2], c.stride, c.padding);
                },
                [&](const Tensor& dy, const Inputs& v) {
                    const Conv2dGrads g =
                        conv2d_backward(dy, v[0], v[1], true, c.stride, c.padding, kernel);
                    return Inputs{g.dinput, g.dweight, g.dbias};
                },
                50);
        }
}

TEST_CASE("gradcheck: softmax and log_softmax along the last and a middle dim") {
    Generator gen(6);
    const Inputs x{randn({3, 4, 5}, gen) * 2.0f};
    for (int64_t dim : {-1, 1}) {
        CAPTURE(dim);
        gradcheck(
            x, [&](const Inputs& v) { return softmax_naive(v[0], dim); },
            [&](const Tensor& dy, const Inputs& v) {
                return Inputs{softmax_backward(dy, softmax_naive(v[0], dim), dim)};
            },
            60);
        gradcheck(
            x, [&](const Inputs& v) { return log_softmax(v[0], dim); },
            [&](const Tensor& dy, const Inputs& v) {
                return Inputs{log_softmax_backward(dy, log_softmax(v[0], dim), dim)};
            },
            61);
    }
}

TEST_CASE("gradcheck: layer_norm's x, weight and bias") {
    Generator gen(7);
    gradcheck(
        {randn({2, 3, 6}, gen) * 2.0f + 1.0f, randn({6}, gen) * 0.5f + 1.0f, randn({6}, gen)},
        [](const Inputs& v) { return layer_norm_naive(v[0], v[1], v[2]); },
        [](const Tensor& dy, const Inputs& v) {
            const LayerNormGrads g = layer_norm_backward(dy, v[0], v[1]);
            return Inputs{g.dx, g.dweight, g.dbias};
        },
        70);
}

TEST_CASE("gradcheck: gelu, exact and tanh") {
    Generator gen(8);
    const Inputs x{randn({40}, gen) * 2.5f};
    for (GeluApproximate a : {GeluApproximate::None, GeluApproximate::Tanh}) {
        CAPTURE(a == GeluApproximate::Tanh);
        gradcheck(
            x, [&](const Inputs& v) { return gelu_naive(v[0], a); },
            [&](const Tensor& dy, const Inputs& v) { return Inputs{gelu_backward(dy, v[0], a)}; },
            80);
    }
}

TEST_CASE("gradcheck: cat and the views") {
    Generator gen(9);
    gradcheck(
        {randn({2, 1, 3}, gen), randn({2, 2, 3}, gen)},
        [](const Inputs& v) {
            return cat({v[0], v[1]}, 1);
        },
        [](const Tensor& dy, const Inputs& v) {
            return cat_backward(dy, {v[0].shape(), v[1].shape()}, 1);
        },
        90);
    const Inputs x{randn({3, 4, 5}, gen)};
    const auto one = [&](const Forward& f,
                         const std::function<Tensor(const Tensor&, const Shape&)>& b,
                         uint64_t seed) {
        gradcheck(
            x, f, [&](const Tensor& dy, const Inputs& v) { return Inputs{b(dy, v[0].shape())}; },
            seed);
    };
    one(
        [](const Inputs& v) {
            return v[0].reshape({5, 12});
        },
        [](const Tensor& dy, const Shape& s) { return reshape_backward(dy, s); }, 91);
    one([](const Inputs& v) { return v[0].transpose(0, 2); },
        [](const Tensor& dy, const Shape&) { return transpose_backward(dy, 0, 2); }, 92);
    one(
        [](const Inputs& v) {
            return v[0].permute({1, 2, 0});
        },
        [](const Tensor& dy, const Shape&) {
            return permute_backward(dy, {1, 2, 0});
        },
        93);
    one([](const Inputs& v) { return v[0].select(1, -1); },
        [](const Tensor& dy, const Shape& s) { return select_backward(dy, s, 1, -1); }, 94);
    one([](const Inputs& v) { return v[0].slice(2, 1, 5, 2); },
        [](const Tensor& dy, const Shape& s) { return slice_backward(dy, s, 2, 1, 5, 2); }, 95);
    gradcheck(
        {randn({3, 1}, gen)},
        [](const Inputs& v) {
            return v[0].expand({2, 3, 4});
        },
        [](const Tensor& dy, const Inputs& v) { return Inputs{expand_backward(dy, v[0].shape())}; },
        96);
}

TEST_CASE("gradcheck: scaled-dot-product attention's q, k and v") {
    Generator gen(10);
    const Inputs x{randn({1, 2, 5, 3}, gen), randn({1, 2, 5, 3}, gen), randn({1, 2, 5, 3}, gen)};
    for (Kernel kernel : kKernels) {
        CAPTURE(to_string(kernel));
        gradcheck(
            x,
            [](const Inputs& v) {
                return scaled_dot_product_attention_naive(v[0], v[1], v[2], 0.7f);
            },
            [&](const Tensor& dy, const Inputs& v) {
                const Tensor out = scaled_dot_product_attention_naive(v[0], v[1], v[2], 0.7f);
                const AttentionGrads g =
                    scaled_dot_product_attention_backward(dy, v[0], v[1], v[2], out, 0.7f, kernel);
                return Inputs{g.dq, g.dk, g.dv};
            },
            100);
    }
}

TEST_CASE("gradcheck: cross_entropy with and without label smoothing") {
    Generator gen(11);
    const Tensor target = from_vector({2, 0, 4}, {3});
    for (float eps : {0.0f, 0.1f}) {
        CAPTURE(eps);
        gradcheck(
            {randn({3, 5}, gen) * 2.0f},
            [&](const Inputs& v) { return cross_entropy(v[0], target, eps); },
            [&](const Tensor& dy, const Inputs& v) {
                return Inputs{cross_entropy_backward(dy, v[0], target, eps)};
            },
            110);
    }
}

TEST_CASE("gradcheck: dropout with its mask fixed by the seed") {
    Generator gen(12);
    gradcheck(
        {randn({4, 6}, gen)},
        [](const Inputs& v) {
            Generator g(99);  // the same mask on every call
            return dropout(v[0], 0.3f, g).out;
        },
        [](const Tensor& dy, const Inputs& v) {
            Generator g(99);
            return Inputs{dropout_backward(dy, dropout(v[0], 0.3f, g).mask)};
        },
        120);
}
