// bench_backward.cpp: forward against backward for the Linear layers of a ViT-B block, and the
// backward of softmax, layer norm and GELU against a copy of the same bytes.
//
//   make bench      (or: build/bench/bench_backward [--reps N])
//
// 1. The four Linear shapes of a ViT-B block at 577 tokens, 1 thread: the forward is one GEMM
//    (2 M K N flops), the backward two of the same size (dx = dy @ W, dW = dy^T @ x) plus the
//    bias sum, so its GFLOP/s count 4 M K N. Both run on matmul_blocked's kernels (dW on its
//    gemm_tn loop), so the two GFLOP/s columns should be close.
//    Then vit_fmnist's four Linears (M = 6400 rows, in and out 64 to 192), in CPU time: the
//    forward, dx = dy @ W (the wide tile), dW = dy^T @ x with the bias sum (gemm_tn_blocked),
//    and the whole linear_backward.
// 2. softmax (12 heads x 577 x 577), layer norm and GELU (577 x 768, 577 x 3072) backward,
//    1 thread, in GB/s of the bytes they must touch (y or x, dy, dx: 12 bytes a float), beside
//    a plain copy (8 bytes a float). Each op twice: the naive version (one float at a time,
//    sums in double) and the blocked one (SIMD kernels of the chosen instruction set); the
//    softmax rows also for log_softmax. The attention backward of vit_fmnist (128 x 4 heads,
//    N = 50, D = 16) naive and blocked, in ms.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/bench.h"
#include "tensor/ops.h"
#include "tensor/ops/matmul_internal.h"

using namespace vitlab;

int main(int argc, char** argv) {
    int reps = 5;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::atoi(argv[++i]);
    bench::Threads one(1);
    Generator gen(1);

    std::printf("Linear forward and backward, 1 thread, median of %d\n\n", reps);
    bench::Table linear_table({{"M x K x N", 22},
                               {"forward ms", 10, bench::Align::Right},
                               {"GFLOP/s", 8, bench::Align::Right},
                               {"backward ms", 11, bench::Align::Right},
                               {"GFLOP/s", 8, bench::Align::Right}});
    linear_table.header();
    const int64_t M = 577;
    for (auto [K, N] :
         {std::pair<int64_t, int64_t>{768, 2304}, {768, 3072}, {3072, 768}, {768, 768}}) {
        const Tensor x = randn({M, K}, gen), w = randn({N, K}, gen), b = randn({N}, gen);
        const Tensor dy = randn({M, N}, gen);
        Tensor y;
        LinearGrads g;
        const bench::Timing fwd = bench::measure([&] { y = linear(x, w, b); }, reps, 1);
        const bench::Timing bwd = bench::measure([&] { g = linear_backward(dy, x, w); }, reps, 1);
        const double flops = 2.0 * M * K * N;
        linear_table.row(
            {std::to_string(M) + " x " + std::to_string(K) + " x " + std::to_string(N),
             bench::fixed(fwd.median * 1e3, 2), bench::fixed(flops / fwd.median * 1e-9, 1),
             bench::fixed(bwd.median * 1e3, 2), bench::fixed(2 * flops / bwd.median * 1e-9, 1)});
    }

    // vit_fmnist's four Linears at (B, N) = (128, 50): M = 6400 rows, small in and out. The
    // backward's two products by themselves: dx = dy @ W (M x out x in) and dW = dy^T @ x
    // (out x M x in, the long K) with the bias sum it does on the way (gemm_tn_blocked). CPU
    // time, so another process's load counts less; GFLOP/s of 2 M in out for each product (4
    // for the whole backward).
    std::printf("\nvit_fmnist Linears, M = 6400, CPU ms, median of %d\n\n", reps * 4);
    bench::Table small_table({{"in -> out", 11},
                              {"forward", 8, bench::Align::Right},
                              {"GFLOP/s", 8, bench::Align::Right},
                              {"dx", 7, bench::Align::Right},
                              {"GFLOP/s", 8, bench::Align::Right},
                              {"dW + db", 7, bench::Align::Right},
                              {"GFLOP/s", 8, bench::Align::Right},
                              {"backward", 8, bench::Align::Right},
                              {"GFLOP/s", 8, bench::Align::Right}});
    small_table.header();
    for (auto [in, out] : {std::pair<int64_t, int64_t>{64, 192}, {64, 64}, {64, 128}, {128, 64}}) {
        const Tensor x = randn({128, 50, in}, gen), w = randn({out, in}, gen);
        const Tensor b = randn({out}, gen), dy = randn({128, 50, out}, gen);
        const Tensor dy2 = dy.reshape({-1, out}), x2 = x.reshape({-1, in});
        Tensor y;
        LinearGrads g;
        const auto cpu_ms = [&](const std::function<void()>& fn) {
            return bench::measure(fn, reps * 4, 2).cpu_median * 1e3;
        };
        const double fwd = cpu_ms([&] { y = linear(x, w, b); });
        const double dx = cpu_ms([&] { y = matmul(dy, w); });
        Tensor dw_out = empty({out, in}), db_out = empty({out});
        const double dw = cpu_ms([&] { detail::gemm_tn_blocked(dy2, x2, dw_out, db_out.data()); });
        const double bwd = cpu_ms([&] { g = linear_backward(dy, x, w); });
        const double gflop = 2.0 * 6400 * in * out * 1e-9;
        small_table.row({std::to_string(in) + " -> " + std::to_string(out), bench::fixed(fwd, 3),
                         bench::fixed(gflop / fwd * 1e3, 1), bench::fixed(dx, 3),
                         bench::fixed(gflop / dx * 1e3, 1), bench::fixed(dw, 3),
                         bench::fixed(gflop / dw * 1e3, 1), bench::fixed(bwd, 3),
                         bench::fixed(2 * gflop / bwd * 1e3, 1)});
    }

    std::printf("\nbackward of softmax, layer norm, GELU, 1 thread, median of %d\n%s\n\n", reps,
                bench::isa_line().c_str());
    bench::Table table({{"op", 34},
                        {"ms", 8, bench::Align::Right},
                        {"GB/s", 7, bench::Align::Right},
                        {"copy GB/s", 9, bench::Align::Right}});
    table.header();
    const auto row = [&](const std::string& name, const Shape& shape, int tensors,
                         const std::function<void()>& fn) {
        const Tensor src = randn(shape, gen);
        Tensor dst = empty(shape);
        const double bytes = 4.0 * static_cast<double>(numel(shape)) * tensors;
        const bench::Timing t = bench::measure(fn, reps, 1);
        // A plain copy of one such tensor, 8 bytes a float (read + write): what memory gives.
        const bench::Timing c = bench::measure([&] { dst.copy_(src); }, reps, 1);
        table.row({name, bench::fixed(t.median * 1e3, 2), bench::fixed(bytes / t.median * 1e-9, 1),
                   bench::fixed(8.0 * static_cast<double>(numel(shape)) / c.median * 1e-9, 1)});
    };
    {
        const Shape s{12, 577, 577};
        const Tensor x = randn(s, gen), dy = randn(s, gen);
        const Tensor y = softmax(x, -1), ly = log_softmax(x, -1);
        for (Kernel k : {Kernel::Naive, Kernel::Blocked})
            row(std::string("softmax (12, 577, 577) ") + to_string(k), s, 3,
                [&] { (void)softmax_backward(dy, y, -1, k); });
        for (Kernel k : {Kernel::Naive, Kernel::Blocked})
            row(std::string("log_softmax (12, 577, 577) ") + to_string(k), s, 3,
                [&] { (void)log_softmax_backward(dy, ly, -1, k); });
    }
    {
        const Shape s{577, 768};
        const Tensor x = randn(s, gen), w = randn({768}, gen), dy = randn(s, gen);
        for (Kernel k : {Kernel::Naive, Kernel::Blocked})
            row(std::string("layer_norm (577, 768) ") + to_string(k), s, 3,
                [&] { (void)layer_norm_backward(dy, x, w, 1e-5f, k); });
    }
    {
        const Shape s{577, 3072};
        const Tensor x = randn(s, gen), dy = randn(s, gen);
        for (Kernel k : {Kernel::Naive, Kernel::Blocked}) {
            row(std::string("gelu (577, 3072) ") + to_string(k), s, 3,
                [&] { (void)gelu_backward(dy, x, GeluApproximate::None, k); });
            row(std::string("gelu tanh (577, 3072) ") + to_string(k), s, 3,
                [&] { (void)gelu_backward(dy, x, GeluApproximate::Tanh, k); });
        }
    }
    {
        // vit_fmnist's attention: q, k, v views of one (B, N, 3, H, D) qkv, as the layer has them
        const Tensor qkv = randn({128, 50, 3, 4, 16}, gen).permute({2, 0, 3, 1, 4});
        const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
        const Tensor out = scaled_dot_product_attention(q, k, v, 0.25f);
        const Tensor dout = randn({128, 4, 50, 16}, gen);
        std::printf("\nattention backward, (128, 4, 50, 16), 1 thread, median of %d\n", reps);
        for (Kernel kn : {Kernel::Naive, Kernel::Blocked}) {
            const bench::Timing t = bench::measure(
                [&] { (void)scaled_dot_product_attention_backward(dout, q, k, v, out, 0.25f, kn); },
                reps, 1);
            std::printf("  %-8s %8.2f ms\n", to_string(kn), t.median * 1e3);
        }
    }
    return 0;
}
