// test_backward_kernels.cpp: the blocked (SIMD, threaded) backward of softmax, log_softmax,
// GELU, layer norm and attention against their naive versions, on every instruction set this
// CPU has, with 1 and 2 threads, at shapes the PyTorch fixtures do not cover: vit_fmnist's
// (N = 50, D = 16, C = 64), ragged ones (N, D, C not whole registers or tiles), more rows than
// one block, and the edges of GELU's range.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/cpu/isa.h"
#include "tensor/ops.h"
#include "tensor/parallel/thread_pool.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;

namespace {

// body() on every instruction set, with 1 and 2 threads.
template <typename Body>
void for_isas_and_threads(Body body) {
    const int saved = get_num_threads();
    for (Isa isa : available_isas()) {
        CAPTURE(std::string(to_string(isa)));
        ScopedIsa use(isa);
        for (int threads : {1, 2}) {
            CAPTURE(threads);
            set_num_threads(threads);
            body();
        }
    }
    set_num_threads(saved);
}

}  // namespace

TEST_CASE("softmax and log_softmax backward blocked match the naive ones: ragged rows, any dim") {
    Generator gen(15);
    for (int64_t n : {1, 3, 17, 65, 577}) {
        CAPTURE(n);
        // Enough rows that 2 threads split them (parallel_for's grain is 8192 floats).
        const int64_t rows = std::max<int64_t>(7, 20000 / n);
        const Tensor x = randn({rows, n}, gen) * 3.0f;
        Tensor lx = x.clone();
        // A log-probability of -inf (exp = 0), in a row that has a finite one (else NaN).
        if (n > 1) lx.data()[0] = -std::numeric_limits<float>::infinity();
        const Tensor y = softmax(x, -1, Kernel::Naive), ly = log_softmax(lx, -1);
        const Tensor dy = randn({rows, n}, gen);
        const Tensor want = softmax_backward(dy, y, -1, Kernel::Naive);
        const Tensor lwant = log_softmax_backward(dy, ly, -1, Kernel::Naive);
        const int saved = get_num_threads();
        for (Isa isa : available_isas()) {
            CAPTURE(std::string(to_string(isa)));
            ScopedIsa use(isa);
            std::vector<float> first, lfirst;  // the 1-thread result
            for (int threads : {1, 2}) {
                CAPTURE(threads);
                set_num_threads(threads);
                const Tensor got = softmax_backward(dy, y, -1, Kernel::Blocked);
                const Tensor lgot = log_softmax_backward(dy, ly, -1, Kernel::Blocked);
                // float sums of at most 577 terms of |dy y| <= 4: within 1e-6 of double's.
                check_close(got, want, 1e-6f, 1e-5f);
                // exp_approx within 2 ulp, times a sum of up to 577 |dy|: 1e-5 relative.
                check_close(lgot, lwant, 1e-5f, 1e-5f);
                if (n > 1) CHECK(lgot.data()[0] == dy.data()[0]);  // dx = dy where y = -inf
                if (threads == 1) {
                    first = got.to_vector();
                    lfirst = lgot.to_vector();
                } else {  // each row summed by one thread: the split changes no bit
                    CHECK(got.to_vector() == first);
                    CHECK(lgot.to_vector() == lfirst);
                }
            }
        }
        set_num_threads(saved);
    }
    // dim 1 of (4, 65, 6), on transposed (non-contiguous) y and dy, and dim 0.
    const Tensor x = randn({4, 6, 65}, gen).transpose(1, 2);
    const Tensor dy = randn({4, 6, 65}, gen).transpose(1, 2);
    REQUIRE_FALSE(x.is_contiguous());
    for (int64_t dim : {1, 0, -1}) {
        CAPTURE(dim);
        const Tensor y = softmax(x, dim, Kernel::Naive), ly = log_softmax(x, dim);
        const Tensor yt = y.transpose(0, 2).contiguous().transpose(0, 2);  // strided again
        REQUIRE_FALSE(yt.is_contiguous());
        const Tensor want = softmax_backward(dy, yt, dim, Kernel::Naive);
        const Tensor lwant = log_softmax_backward(dy, ly, dim, Kernel::Naive);
        for_isas_and_threads([&] {
            check_close(softmax_backward(dy, yt, dim, Kernel::Blocked), want, 1e-6f, 1e-5f);
            check_close(log_softmax_backward(dy, ly, dim, Kernel::Blocked), lwant, 1e-5f, 1e-5f);
        });
    }
}

TEST_CASE("gelu_backward blocked matches the naive one, exact and tanh, over the whole range") {
    Generator gen(11);
    // Random values over [-8, 8] and the edges: 0, tiny, large, huge, and both infinities.
    Tensor x = randn({3001}, gen) * 4.0f;
    const float edges[] = {0.0f,  -0.0f,  1e-30f, -1e-30f, 1e-6f, -1e-6f, 5.4f,  -5.4f,
                           12.0f, -12.0f, 30.0f,  -30.0f,  1e30f, -1e30f, 1e38f, -1e38f};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; ++i) x.data()[i] = edges[i];
    const Tensor dy = randn({3001}, gen);
    for (GeluApproximate mode : {GeluApproximate::None, GeluApproximate::Tanh}) {
        CAPTURE(mode == GeluApproximate::Tanh);
        const Tensor want = gelu_backward(dy, x, mode, Kernel::Naive);
        for_isas_and_threads([&] {
            const Tensor got = gelu_backward(dy, x, mode, Kernel::Blocked);
            // exact: Phi within 1.5e-7 (Abramowitz & Stegun), the rest float rounding. tanh: a
            // float exp and division, and x sig (1 - sig) (2u)' rounded with terms up to 4x the
            // result: 1e-5 relative.
            check_close(got, want, 1e-6f, mode == GeluApproximate::Tanh ? 1e-5f : 1e-6f);
        });
    }
    // A NaN stays NaN.
    const Tensor nan = from_vector({std::numeric_limits<float>::quiet_NaN()}, {1});
    for (GeluApproximate mode : {GeluApproximate::None, GeluApproximate::Tanh})
        CHECK(std::isnan(gelu_backward(ones({1}), nan, mode, Kernel::Blocked).item()));
}

TEST_CASE("layer_norm_backward blocked matches the naive one: many rows, C = 64 and ragged C") {
    Generator gen(12);
    for (int64_t C : {64, 7, 100}) {
        CAPTURE(C);
        // 6400 rows of C = 64 (vit_fmnist's batch of 128 x 50 tokens): 100 blocks of rows.
        const int64_t rows = C == 64 ? 6400 : 131;
        const Tensor x = randn({rows, C}, gen) * 3.0f + 1.0f, dy = randn({rows, C}, gen);
        const Tensor w = randn({C}, gen);
        const LayerNormGrads want = layer_norm_backward(dy, x, w, 1e-5f, Kernel::Naive);
        for_isas_and_threads([&] {
            const LayerNormGrads got = layer_norm_backward(dy, x, w, 1e-5f, Kernel::Blocked);
            check_close(got.dx, want.dx, 1e-5f, 1e-4f);
            check_close(got.dweight, want.dweight, 1e-4f, 1e-4f);
            check_close(got.dbias, want.dbias, 1e-4f, 1e-4f);
        });
    }
}

// The blocked attention backward against the naive one (scale 1/sqrt(D)), on every ISA and
// thread count; dout (B, H, N, D) may be a view, as the layer's is.
static void check_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& dout) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
    const Tensor out = scaled_dot_product_attention(q, k, v, scale, nullptr, Kernel::Naive);
    const AttentionGrads want =
        scaled_dot_product_attention_backward_naive(dout, q, k, v, out, scale);
    for_isas_and_threads([&] {
        const AttentionGrads got =
            scaled_dot_product_attention_backward_blocked(dout, q, k, v, out, scale);
        check_close(got.dq, want.dq, 1e-5f, 1e-4f);
        check_close(got.dk, want.dk, 1e-5f, 1e-4f);
        check_close(got.dv, want.dv, 1e-5f, 1e-4f);
    });
}

TEST_CASE("attention backward blocked matches the naive one: vit_fmnist's heads and ragged ones") {
    struct Case {
        int64_t B, H, N, D;
    };
    // (2, 4, 50, 16) vit_fmnist; N = 70 has more rows than panels of columns with AVX-512
    // (72 rows against 64 columns); 13 x 5 is ragged everywhere; N = 1 has one key.
    const Case cases[] = {{2, 4, 50, 16}, {1, 3, 70, 64}, {3, 2, 13, 5}, {2, 2, 1, 8}};
    Generator gen(13);
    for (const Case& c : cases) {
        CAPTURE(c.N);
        CAPTURE(c.D);
        // q, k, v as views of one (B, N, 3, H, D) qkv, as the layer hands them over.
        const Tensor qkv = randn({c.B, c.N, 3, c.H, c.D}, gen).permute({2, 0, 3, 1, 4});
        const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
        check_attention_backward(q, k, v, randn({c.B, c.H, c.N, c.D}, gen));
    }
}

TEST_CASE("attention backward blocked matches the naive one: odd token counts, D of 8, 16, 64") {
    // D = 16 is one AVX-512 register and D = 8 one AVX2 register: the whole-head kernels
    // (query index in the lanes); D = 64 is 4 AVX-512 registers (whole-head) but 8 AVX2 ones
    // (the general kernel). N = 1, 7, 65, 197 leave ragged lanes, rows and tiles.
    Generator gen(17);
    for (int64_t N : {1, 7, 50, 65, 197})
        for (int64_t D : {8, 16, 64}) {
            CAPTURE(N);
            CAPTURE(D);
            const int64_t B = 2, H = 2;
            const Tensor qkv = randn({B, N, 3, H, D}, gen).permute({2, 0, 3, 1, 4});
            const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
            check_attention_backward(q, k, v, randn({B, N, H, D}, gen).transpose(1, 2));
        }
}

TEST_CASE("attention backward blocked: 1 and 2 threads give identical bits") {
    Generator gen(18);
    const int64_t B = 3, H = 4, N = 50, D = 16;
    const Tensor qkv = randn({B, N, 3, H, D}, gen).permute({2, 0, 3, 1, 4});
    const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
    const Tensor out = scaled_dot_product_attention(q, k, v, 0.25f, nullptr, Kernel::Naive);
    const Tensor dout = randn({B, H, N, D}, gen);
    const int saved = get_num_threads();
    for (Isa isa : available_isas()) {
        CAPTURE(std::string(to_string(isa)));
        ScopedIsa use(isa);
        set_num_threads(1);
        const AttentionGrads one =
            scaled_dot_product_attention_backward_blocked(dout, q, k, v, out, 0.25f);
        set_num_threads(2);
        const AttentionGrads two =
            scaled_dot_product_attention_backward_blocked(dout, q, k, v, out, 0.25f);
        CHECK(max_abs_diff(one.dq, two.dq) == 0.0f);
        CHECK(max_abs_diff(one.dk, two.dk) == 0.0f);
        CHECK(max_abs_diff(one.dv, two.dv) == 0.0f);
    }
    set_num_threads(saved);
}

TEST_CASE("multi_head_attention_packed: the forward of the three views, one node, d(qkv)") {
    Generator gen(14);
    const int64_t B = 2, N = 50, H = 4, D = 16;
    const Tensor x = randn({B, N, 3 * H * D}, gen);
    const Tensor dy = randn({B, N, H * D}, gen);
    const float scale = 0.25f;
    // Reference: scaled_dot_product_attention on the views, recorded op by op.
    Tensor ref_in = x.clone().requires_grad_();
    const Tensor heads = ref_in.reshape({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});
    const Tensor ref = scaled_dot_product_attention(heads.select(0, 0), heads.select(0, 1),
                                                    heads.select(0, 2), scale)
                           .transpose(1, 2)
                           .reshape({B, N, H * D});
    ref.backward(dy);
    for_isas_and_threads([&] {
        Tensor in = x.clone().requires_grad_();
        const Tensor y = multi_head_attention_packed(in, H, scale);
        CHECK(std::string(y.grad_fn_name()) == "MultiHeadAttentionBackward");
        check_close(y.detach(), ref.detach(), 1e-6f, 1e-5f);
        y.backward(dy);
        check_close(in.grad(), ref_in.grad(), 1e-5f, 1e-4f);
    });
    // Inference records nothing and gives the same numbers.
    const Tensor plain = multi_head_attention_packed(x, H, scale);
    CHECK(plain.is_leaf());
    check_close(plain, ref.detach(), 1e-6f, 1e-5f);
    CHECK_THROWS_AS(multi_head_attention_packed(x, 5, scale), ShapeError);
    CHECK_THROWS_AS(multi_head_attention_packed(x.reshape({B * N, 3 * H * D}), H, scale),
                    ShapeError);
}
