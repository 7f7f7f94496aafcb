// test_nn_attention.cpp: multi-head self-attention against torch.nn.MultiheadAttention.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/attention.h"
#include "tensor/ops.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;
using vitlab::testing::ThreadsForTest;

TEST_CASE("Attention: matches torch.nn.MultiheadAttention, output and per-head probabilities") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        auto f = fixture("nn_layers");
        Generator gen(0);
        nn::Attention attn(16, 4, true, gen);
        attn.load_state_dict({{"qkv.weight", f["attention.qkv.weight"]},
                              {"qkv.bias", f["attention.qkv.bias"]},
                              {"proj.weight", f["attention.proj.weight"]},
                              {"proj.bias", f["attention.proj.bias"]}});
        Tensor probs;
        Tensor y = attn(f["attention.in"], &probs);
        check_close(y, f["attention.out"], 1e-5f, 1e-5f);
        check_close(probs, f["attention.probs"], 1e-6f, 1e-5f);
    }
}

TEST_CASE("Attention: probabilities are (B, heads, N, N) and every row sums to 1") {
    Generator gen(1);
    nn::Attention attn(12, 3, true, gen);
    CHECK(attn.head_dim == 4);
    CHECK(attn.scale == doctest::Approx(0.5f));
    Tensor probs;
    Tensor y = attn(randn({2, 7, 12}, gen), &probs);
    CHECK(y.shape() == Shape{2, 7, 12});
    REQUIRE(probs.shape() == Shape{2, 3, 7, 7});
    check_close(sum(probs, -1), ones({2, 3, 7}), 1e-5f);
}

TEST_CASE("Attention: with equal scores every token gets the mean of the values") {
    Generator gen(2);
    nn::Attention attn(4, 2, true, gen);
    // q = k = 0 for every token, so all scores are equal and softmax is uniform: out = mean(v).
    attn.qkv.weight.narrow(0, 0, 8).fill_(0.0f);
    attn.qkv.bias.narrow(0, 0, 8).fill_(0.0f);
    attn.proj.weight.copy_(from_vector({1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, {4, 4}));
    attn.proj.bias.fill_(0.0f);
    Tensor x = randn({1, 5, 4}, gen);
    Tensor v = matmul(x, attn.qkv.weight.narrow(0, 8, 4).transpose(0, 1)) +
               attn.qkv.bias.narrow(0, 8, 4);  // (1, 5, 4)
    Tensor expected = mean(v, 1, true).expand({1, 5, 4});
    Tensor probs;
    check_close(attn(x, &probs), expected, 1e-5f);
    check_close(probs, full({1, 2, 5, 5}, 0.2f), 1e-6f);
}

TEST_CASE("Attention: swapping two tokens swaps their outputs; batch items stay independent") {
    Generator gen(3);
    nn::Attention attn(8, 2, true, gen);
    Tensor x = randn({2, 6, 8}, gen);
    Tensor y = attn(x);
    Tensor swapped = x.clone();
    swapped.select(1, 0).copy_(x.select(1, 4));
    swapped.select(1, 4).copy_(x.select(1, 0));
    Tensor ys = attn(swapped);
    check_close(ys.select(1, 0), y.select(1, 4), 1e-5f);
    check_close(ys.select(1, 4), y.select(1, 0), 1e-5f);
    check_close(ys.select(1, 2), y.select(1, 2), 1e-5f);
    check_close(attn(x.narrow(0, 1, 1)), y.narrow(0, 1, 1), 1e-5f);
}

TEST_CASE("Attention: bad sizes are errors naming the expected shape") {
    Generator gen(0);
    CHECK_THROWS_WITH_AS(nn::Attention(10, 4, true, gen), doctest::Contains("num_heads"),
                         std::invalid_argument);
    nn::Attention attn(8, 2, true, gen);
    CHECK_THROWS_WITH_AS(attn(zeros({1, 5, 6})),
                         "Attention(dim 8): expected input of shape (B, N, 8), got (1, 5, 6)",
                         ShapeError);
    CHECK_THROWS_AS(attn(zeros({5, 8})), ShapeError);
}

// ---- scaled_dot_product_attention: the naive formula and the blocked kernel ---------------

namespace {

// Makes Kernel::Default mean `kernel` until the end of the scope.
struct DefaultKernel {
    explicit DefaultKernel(Kernel kernel) : saved(default_kernel()) { set_default_kernel(kernel); }
    ~DefaultKernel() { set_default_kernel(saved); }
    Kernel saved;
};

// q, k, v (B, H, N, D) as Attention makes them: strided views into one (B, N, 3, H, D) tensor.
struct Heads {
    Tensor q, k, v;
};

Heads heads_from_qkv(int64_t B, int64_t H, int64_t N, int64_t D, Generator& gen) {
    Tensor qkv = randn({B, N, 3, H, D}, gen).permute({2, 0, 3, 1, 4});  // (3, B, H, N, D)
    return {qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)};
}

}  // namespace

TEST_CASE("scaled_dot_product_attention: a hand-computed head, in both versions") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // One head, N = 2 tokens, D = 1, scale 1. q = (1, 0), k = (0, ln 3), v = (4, 8):
        //   token 0: scores (0, ln 3) -> softmax (1/4, 3/4) -> 4/4 + 3*8/4 = 7
        //   token 1: scores (0, 0)    -> softmax (1/2, 1/2) -> 6
        const Tensor q = from_vector({1.0f, 0.0f}, {1, 1, 2, 1});
        const Tensor k = from_vector({0.0f, std::log(3.0f)}, {1, 1, 2, 1});
        const Tensor v = from_vector({4.0f, 8.0f}, {1, 1, 2, 1});
        for (Kernel kernel : {Kernel::Naive, Kernel::Blocked}) {
            CAPTURE(to_string(kernel));
            Tensor probs;
            const Tensor out = scaled_dot_product_attention(q, k, v, 1.0f, &probs, kernel);
            check_close(out, from_vector({7.0f, 6.0f}, {1, 1, 2, 1}), 1e-5f);
            check_close(probs, from_vector({0.25f, 0.75f, 0.5f, 0.5f}, {1, 1, 2, 2}), 1e-6f);
        }
    }
}

TEST_CASE(
    "scaled_dot_product_attention: blocked matches naive on ragged sizes, probabilities included") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(10);
        // N crosses the row block and the register tile's edges; D is below, at and above a panel.
        const struct {
            int64_t B, H, N, D;
        } cases[] = {{1, 1, 1, 1},  {1, 2, 3, 5},   {2, 3, 7, 4},    {1, 2, 17, 16}, {1, 1, 63, 64},
                     {2, 1, 64, 3}, {1, 1, 65, 17}, {1, 1, 577, 64}, {1, 2, 100, 33}};
        for (const auto& c : cases) {
            CAPTURE(c.B);
            CAPTURE(c.H);
            CAPTURE(c.N);
            CAPTURE(c.D);
            const Heads t = heads_from_qkv(c.B, c.H, c.N, c.D, gen);
            const float scale = 1.0f / std::sqrt(float(c.D));
            Tensor p_naive, p_blocked;
            const Tensor naive = scaled_dot_product_attention_naive(t.q, t.k, t.v, scale, &p_naive);
            const Tensor blocked =
                scaled_dot_product_attention_blocked(t.q, t.k, t.v, scale, &p_blocked);
            REQUIRE(blocked.shape() == Shape{c.B, c.H, c.N, c.D});
            check_close(blocked, naive, 1e-5f, 1e-5f);
            check_close(p_blocked, p_naive, 1e-6f, 1e-5f);
        }
    }
}

TEST_CASE("scaled_dot_product_attention: blocked matches naive on odd token counts, D 8, 16, 64") {
    // The whole-head kernel (query index in the lanes) takes D of 1 to 4 registers: D = 16 and
    // 64 with AVX-512, 8 and 16 with AVX2; the others go to the row blocks. Both against naive,
    // with 1 and 2 threads.
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(19);
        for (int64_t N : {1, 7, 50, 65, 197})
            for (int64_t D : {8, 16, 64}) {
                CAPTURE(N);
                CAPTURE(D);
                const Heads t = heads_from_qkv(2, 3, N, D, gen);
                const float scale = 1.0f / std::sqrt(float(D));
                Tensor p_naive;
                const Tensor naive =
                    scaled_dot_product_attention_naive(t.q, t.k, t.v, scale, &p_naive);
                for (int threads : {1, 2}) {
                    CAPTURE(threads);
                    ThreadsForTest use_threads(threads);
                    Tensor p_blocked;
                    const Tensor blocked =
                        scaled_dot_product_attention_blocked(t.q, t.k, t.v, scale, &p_blocked);
                    check_close(blocked, naive, 1e-5f, 1e-5f);
                    check_close(p_blocked, p_naive, 1e-6f, 1e-5f);
                }
            }
    }
}

TEST_CASE(
    "scaled_dot_product_attention: any scale, zero and negative included, as in the formula") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // softmax(s * scale) needs the largest s * scale: for scale < 0 that is at the smallest s.
        // N = 29 leaves a tail shorter than a register, whose unused lanes must not reach the sum
        // (with scale 0 a -inf fill would give 0 * -inf = NaN there).
        // D = 16 takes the whole-head kernel with AVX-512 (its softmax runs down columns).
        Generator gen(13);
        for (int64_t D : {8, 16})
            for (float scale : {0.35f, 0.0f, -0.35f, -3.0f}) {
                CAPTURE(D);
                CAPTURE(scale);
                const Heads t = heads_from_qkv(1, 2, 29, D, gen);
                Tensor p_naive, p_blocked;
                const Tensor naive =
                    scaled_dot_product_attention_naive(t.q, t.k, t.v, scale, &p_naive);
                const Tensor blocked =
                    scaled_dot_product_attention_blocked(t.q, t.k, t.v, scale, &p_blocked);
                check_close(blocked, naive, 1e-5f, 1e-5f);
                check_close(p_blocked, p_naive, 1e-6f, 1e-5f);
            }
    }
}

TEST_CASE(
    "scaled_dot_product_attention: blocked reads contiguous, transposed and sliced inputs alike") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(11);
        const int64_t B = 2, H = 3, N = 29, D = 8;
        const Tensor q = randn({B, H, N, D}, gen);
        const Tensor k = randn({B, H, D, N}, gen).transpose(-2, -1);    // (B, H, N, D), transposed
        const Tensor v = randn({B, H, N, 2 * D}, gen).narrow(3, D, D);  // (B, H, N, D), sliced
        const Tensor expected =
            scaled_dot_product_attention_naive(q, k.contiguous(), v.contiguous(), 0.3f);
        check_close(scaled_dot_product_attention_blocked(q, k, v, 0.3f), expected, 1e-5f, 1e-5f);
    }
}

TEST_CASE("scaled_dot_product_attention: 1 and 2 threads give identical bits") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(12);
        const Heads t = heads_from_qkv(1, 3, 150, 64, gen);
        Tensor one, two, p_one, p_two;
        {
            ThreadsForTest threads(1);
            one = scaled_dot_product_attention_blocked(t.q, t.k, t.v, 0.125f, &p_one);
        }
        {
            ThreadsForTest threads(2);
            two = scaled_dot_product_attention_blocked(t.q, t.k, t.v, 0.125f, &p_two);
        }
        CHECK(max_abs_diff(one, two) == 0.0f);
        CHECK(max_abs_diff(p_one, p_two) == 0.0f);
    }
}

TEST_CASE("scaled_dot_product_attention: huge scores do not overflow; the largest wins") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        // Scores of 1e4 and more: exp without subtracting the row max would give inf / inf = NaN.
        Tensor q = full({1, 1, 3, 2}, 100.0f);
        Tensor k = from_vector({100.0f, 100.0f, 99.0f, 99.0f, 90.0f, 90.0f}, {1, 1, 3, 2});
        Tensor v = from_vector({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {1, 1, 3, 2});
        Tensor probs;
        const Tensor out = scaled_dot_product_attention_blocked(q, k, v, 1.0f, &probs);
        // scores (20000, 19800, 18000) per row: exp(-200) is 0 in float, so token 0 takes all
        check_close(out, from_vector({1, 2, 1, 2, 1, 2}, {1, 1, 3, 2}), 0.0f);
        check_close(probs.select(3, 0), ones({1, 1, 3}), 0.0f);
    }
}

TEST_CASE("scaled_dot_product_attention: empty batches and single tokens") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(13);
        const Heads empty_batch = heads_from_qkv(0, 2, 5, 4, gen);
        CHECK(
            scaled_dot_product_attention_blocked(empty_batch.q, empty_batch.k, empty_batch.v, 0.5f)
                .shape() == Shape{0, 2, 5, 4});
        // One token attends only to itself: probability 1, output v.
        const Heads one = heads_from_qkv(2, 3, 1, 5, gen);
        Tensor probs;
        const Tensor out = scaled_dot_product_attention_blocked(one.q, one.k, one.v, 0.5f, &probs);
        check_close(out, one.v, 0.0f);
        check_close(probs, ones({2, 3, 1, 1}), 0.0f);
    }
}

TEST_CASE(
    "scaled_dot_product_attention: q, k, v of different shapes are an error naming all three") {
    CHECK_THROWS_WITH_AS(
        scaled_dot_product_attention(zeros({1, 2, 5, 4}), zeros({1, 2, 6, 4}), zeros({1, 2, 5, 4}),
                                     0.5f),
        "scaled_dot_product_attention: expected q, k, v of the same shape (B, H, N, D), got "
        "(1, 2, 5, 4), (1, 2, 6, 4), (1, 2, 5, 4)",
        ShapeError);
    CHECK_THROWS_AS(
        scaled_dot_product_attention(zeros({2, 5, 4}), zeros({2, 5, 4}), zeros({2, 5, 4}), 0.5f),
        ShapeError);
}

TEST_CASE("scaled_dot_product_attention: the scale defaults to 1 / sqrt(D), as in PyTorch") {
    Generator gen(15);
    const Heads t = heads_from_qkv(2, 3, 11, 16, gen);
    for (Kernel kernel : {Kernel::Naive, Kernel::Blocked}) {
        CAPTURE(to_string(kernel));
        const Tensor implied =
            scaled_dot_product_attention(t.q, t.k, t.v, std::nullopt, nullptr, kernel);
        const Tensor given = scaled_dot_product_attention(t.q, t.k, t.v, 0.25f, nullptr, kernel);
        CHECK(max_abs_diff(implied, given) == 0.0f);
        // Another scale gives other numbers: the default is not simply ignored.
        CHECK(max_abs_diff(scaled_dot_product_attention(t.q, t.k, t.v, 1.0f, nullptr, kernel),
                           given) > 1e-3f);
    }
}

TEST_CASE("scaled_dot_product_attention: blocked returns (B, H, N, D) over merged heads") {
    // The merge a multi-head layer does next, out.transpose(1, 2).reshape(B, N, H * D), is a
    // view of the blocked result: its memory is already (B, N, H * D).
    Generator gen(16);
    const Heads t = heads_from_qkv(2, 3, 9, 4, gen);
    const Tensor out = scaled_dot_product_attention_blocked(t.q, t.k, t.v);
    REQUIRE(out.shape() == Shape{2, 3, 9, 4});
    CHECK(!out.is_contiguous());
    CHECK(out.transpose(1, 2).is_contiguous());
    const Tensor merged = out.transpose(1, 2).reshape({2, 9, 12});
    CHECK(merged.data() == out.data());
    check_close(
        merged,
        scaled_dot_product_attention_naive(t.q, t.k, t.v).transpose(1, 2).reshape({2, 9, 12}),
        1e-5f, 1e-5f);
}

TEST_CASE("Attention: the naive and blocked kernels give the same layer output") {
    for (Isa isa : available_isas()) {  // every instruction set this CPU has
        ScopedIsa use(isa);
        INFO("isa ", to_string(isa));
        Generator gen(14);
        nn::Attention attn(48, 4, true, gen);
        const Tensor x = randn({2, 70, 48}, gen);
        Tensor y_naive, y_blocked, p_naive, p_blocked;
        {
            DefaultKernel naive(Kernel::Naive);
            y_naive = attn(x, &p_naive);
        }
        {
            DefaultKernel blocked(Kernel::Blocked);
            y_blocked = attn(x, &p_blocked);
        }
        check_close(y_blocked, y_naive, 1e-5f, 1e-5f);
        check_close(p_blocked, p_naive, 1e-6f, 1e-5f);
    }
}
