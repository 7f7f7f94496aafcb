// bench_block.cpp: one ViT-B/16-224 encoder block, forward + backward through autograd, the way
// bench/pytorch_block.py times PyTorch's, so that the two can be compared in one sitting.
//
//   make bench      (or: build/bench/bench_block [--reps N] [--batch B])
//
// The block is timm's (dim 768, 12 heads, MLP 3072, 197 tokens: 196 patches + the class
// token). One step: zero_grad, y = block(x), y.backward(dy): every parameter's grad and x's
// grad, the training step of one block without the optimiser. Its FLOPs: the forward's four
// Linears (2 * T * 768 * (2304 + 768 + 3072 + 3072)) and attention (2 * 2 * 12 * T * T * 64),
// times 3 for forward + backward (each GEMM's backward is two GEMMs of its size).
// Rows: 1 and 2 threads, the median of --reps steps after 2 warm-up steps; the forward alone
// (NoGrad, what inference pays) is printed beside it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/bench.h"
#include "nn/block.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"

using namespace vitlab;

int main(int argc, char** argv) {
    int reps = 10;
    int64_t batch = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = std::atoi(argv[++i]);
        } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = std::atoll(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: bench_block [--reps N] [--batch B] (N, B >= 1)\n");
            return 2;
        }
    }
    if (reps < 1 || batch < 1) {
        std::fprintf(stderr, "bench_block: --reps and --batch must be at least 1\n");
        return 2;
    }
    const int64_t T = 197, C = 768, H = 12, M = 3072;
    Generator gen(0);
    nn::Block block(C, H, M, 1e-6f, true, gen);
    block.requires_grad_();
    Tensor x = randn({batch, T, C}, gen);
    x.requires_grad_();
    const Tensor dy = randn({batch, T, C}, gen);

    const double linear_flops = 2.0 * batch * T * C * (3 * C + C + M + M);
    const double attention_flops = 2.0 * 2.0 * batch * H * T * T * (C / H);
    const double fwd_flops = linear_flops + attention_flops;

    std::printf(
        "ViT-B/16-224 block (batch %lld, %lld tokens, dim 768, 12 heads, MLP 3072): "
        "forward + backward, median of %d after 2 warm-up\n%s\n",
        static_cast<long long>(batch), static_cast<long long>(T), reps, bench::isa_line().c_str());
    const std::string load = bench::load_warning();
    if (!load.empty()) std::printf("%s\n", load.c_str());
    std::printf("\n");
    bench::Table table({{"threads", 7, bench::Align::Right},
                        {"fwd ms", 8, bench::Align::Right},
                        {"fwd+bwd ms", 10, bench::Align::Right},
                        {"GFLOP/s", 8, bench::Align::Right},
                        {"cpu/wall", 8, bench::Align::Right},
                        {"bwd / fwd", 9, bench::Align::Right}});
    table.header();
    for (int threads : {1, 2}) {
        bench::Threads scope(threads);
        const bench::Timing fwd = bench::measure(
            [&] {
                autograd::NoGrad no_grad;
                (void)block(x);
            },
            reps, 2);
        const bench::Timing step = bench::measure(
            [&] {
                block.zero_grad();
                x.zero_grad();
                const Tensor y = block(x);
                y.backward(dy);
            },
            reps, 2);
        table.row({std::to_string(threads), bench::fixed(fwd.median * 1e3, 2),
                   bench::fixed(step.median * 1e3, 2),
                   bench::fixed(3.0 * fwd_flops / step.median * 1e-9, 1),
                   bench::fixed(step.cpu_per_wall, 2),
                   bench::fixed((step.median - fwd.median) / fwd.median, 2)});
    }
    std::printf("\npeak resident memory %.0f MB\n", bench::peak_rss_mb());
    return 0;
}
