// Checks for exercise 05 (scaled dot-product attention). Run: make exercise N=5
//
// Hand-computed cases (equal scores average the values; the 1/sqrt(d) scale; a sharp match
// copies one value), a double-precision reference computed here by loops on random heads
// (N != M too), a given scale, large scores, inputs without a head dim, the ViT-Base shapes
// against the library's matmul + softmax and its scaled_dot_product_attention, and the shape
// errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using vitlab::exercises::before;
using vitlab::exercises::check_close;
using vitlab::exercises::check_unchanged;

namespace {

// Attention by loops in double, for q (..., N, d), k (..., M, d), v (..., M, dv) with the same
// leading dims. Independent of the library's kernels.
// scale < 0 means the default, 1 / sqrt(d).
Tensor reference_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                           double scale = -1.0) {
    const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const int64_t N = q.size(-2), d = q.size(-1), M = k.size(-2), dv = v.size(-1);
    if (scale < 0.0) scale = 1.0 / std::sqrt(double(d));
    const int64_t batch = q.numel() / (N * d);
    Shape out_shape = q.shape();
    out_shape.back() = dv;
    Tensor out = zeros(out_shape);
    std::vector<double> scores(M);
    for (int64_t b = 0; b < batch; ++b) {
        const float* qb = q.data() + b * N * d;
        const float* kb = k.data() + b * M * d;
        const float* vb = v.data() + b * M * dv;
        float* ob = out.data() + b * N * dv;
        for (int64_t i = 0; i < N; ++i) {
            double top = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < M; ++j) {
                double s = 0.0;
                for (int64_t c = 0; c < d; ++c) s += double(qb[i * d + c]) * kb[j * d + c];
                scores[j] = s * scale;
                top = std::max(top, scores[j]);
            }
            for (int64_t j = 0; j < M; ++j) sum += scores[j] = std::exp(scores[j] - top);
            for (int64_t c = 0; c < dv; ++c) {
                double acc = 0.0;
                for (int64_t j = 0; j < M; ++j) acc += scores[j] / sum * vb[j * dv + c];
                ob[i * dv + c] = static_cast<float>(acc);
            }
        }
    }
    return out;
}

}  // namespace

TEST_CASE("05 attention: a query of zeros scores every key 0 and averages the values") {
    Generator gen(1);
    const Tensor q = zeros({1, 2});
    const Tensor k = randn({3, 2}, gen);
    const Tensor v = from_vector({1, 2, 3, 4, 5, 6}, {3, 2});
    check_close(exercises::scaled_dot_product_attention(q, k, v), from_vector({3, 4}, {1, 2}),
                1e-5f);
}

TEST_CASE("05 attention: the scores are divided by sqrt(d), by hand") {
    // d = 4: q.k = [4, 0], / sqrt(4) = [2, 0]; softmax = [e^2, 1] / (e^2 + 1) = [0.8808, 0.1192].
    // Without the scale the weights would be [0.982, 0.018].
    const Tensor q = ones({1, 4});
    const Tensor k = from_vector({1, 1, 1, 1, 0, 0, 0, 0}, {2, 4});
    const Tensor v = from_vector({1, 0, 0, 1}, {2, 2});
    check_close(exercises::scaled_dot_product_attention(q, k, v),
                from_vector({0.8807971f, 0.1192029f}, {1, 2}), 1e-6f);
}

TEST_CASE("05 attention: a query that matches one key strongly copies its value") {
    // Keys are the unit vectors; q = 20 e_1 scores [0, 11.5, 0]: nearly all weight on key 1.
    const Tensor k = from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3});
    const Tensor q = from_vector({0, 20, 0}, {1, 3});
    const Tensor v = from_vector({1, 2, 3, 4, 5, 6}, {3, 2});
    check_close(exercises::scaled_dot_product_attention(q, k, v), from_vector({3, 4}, {1, 2}),
                1e-3f);
}

TEST_CASE("05 attention: matches a double-precision reference on random heads") {
    Generator gen(2);
    struct Case {
        Shape q, k, v;
    };
    const Case cases[] = {
        {{2, 3, 17, 8}, {2, 3, 17, 8}, {2, 3, 17, 8}},  // self-attention, 3 heads
        {{1, 2, 5, 8}, {1, 2, 9, 8}, {1, 2, 9, 4}},     // N = 5 queries, M = 9 keys, d_v = 4
        {{1, 1, 1, 3}, {1, 1, 1, 3}, {1, 1, 1, 2}},     // one token: out is its value
    };
    for (const Case& c : cases) {
        CAPTURE(to_string(c.q));
        CAPTURE(to_string(c.k));
        CAPTURE(to_string(c.v));
        const Tensor q = randn(c.q, gen), k = randn(c.k, gen), v = randn(c.v, gen);
        check_close(exercises::scaled_dot_product_attention(q, k, v), reference_attention(q, k, v),
                    1e-5f, 1e-4f);
    }
}

TEST_CASE("05 attention: a given scale replaces 1/sqrt(d), as PyTorch's scale=") {
    Generator gen(7);
    const Tensor q = randn({2, 7, 8}, gen), k = randn({2, 9, 8}, gen), v = randn({2, 9, 3}, gen);
    check_close(exercises::scaled_dot_product_attention(q, k, v, 0.9f),
                reference_attention(q, k, v, 0.9), 1e-5f, 1e-4f);
    // Scale 0: every score is 0, so every query gets the mean of the values.
    check_close(exercises::scaled_dot_product_attention(q, k, v, 0.0f),
                mean(v, -2, true).expand({2, 7, 3}), 1e-5f, 1e-5f);
}

TEST_CASE("05 attention: large scores stay finite (the softmax subtracts the max)") {
    // Scores here reach several hundred: exp() of them overflows float.
    Generator gen(3);
    const Tensor q = randn({2, 6, 16}, gen) * 20.0f;
    const Tensor k = randn({2, 6, 16}, gen) * 20.0f;
    const Tensor v = randn({2, 6, 5}, gen);
    check_close(exercises::scaled_dot_product_attention(q, k, v), reference_attention(q, k, v),
                1e-3f, 1e-3f);
}

TEST_CASE("05 attention: 2-d inputs (one sequence, no batch or head dims)") {
    Generator gen(4);
    const Tensor q = randn({5, 8}, gen), k = randn({7, 8}, gen), v = randn({7, 3}, gen);
    check_close(exercises::scaled_dot_product_attention(q, k, v), reference_attention(q, k, v),
                1e-5f, 1e-4f);
}

TEST_CASE("05 attention: ViT-Base heads (1, 12, 577, 64) agree with matmul + softmax") {
    Generator gen(5);
    const Shape shape{1, 12, 577, 64};
    const Tensor q = randn(shape, gen), k = randn(shape, gen), v = randn(shape, gen);
    const Tensor probs = vitlab::softmax(matmul(q, k.transpose(-2, -1)) * 0.125f, -1);
    const Tensor out = exercises::scaled_dot_product_attention(q, k, v);
    check_close(out, matmul(probs, v), 1e-4f, 1e-4f);
    // The library's operator of the same name, (B, H, N, D) in and out, gives the same numbers.
    check_close(out, vitlab::scaled_dot_product_attention(q, k, v), 1e-4f, 1e-4f);
}

TEST_CASE("05 attention: q, k and v are left unchanged") {
    Generator gen(6);
    const auto q = before("q", randn({1, 2, 5, 8}, gen));
    const auto k = before("k", randn({1, 2, 5, 8}, gen));
    const auto v = before("v", randn({1, 2, 5, 4}, gen));
    exercises::scaled_dot_product_attention(q.input, k.input, v.input);
    check_unchanged(q);
    check_unchanged(k);
    check_unchanged(v);
}

TEST_CASE("05 attention: mismatched shapes throw ShapeError") {
    // q and k disagree on d (8 vs 4); then k and v disagree on M (5 vs 6).
    CHECK_THROWS_AS(exercises::scaled_dot_product_attention(zeros({1, 5, 8}), zeros({1, 5, 4}),
                                                            zeros({1, 5, 8})),
                    ShapeError);
    CHECK_THROWS_AS(exercises::scaled_dot_product_attention(zeros({1, 5, 8}), zeros({1, 5, 8}),
                                                            zeros({1, 6, 8})),
                    ShapeError);
}
