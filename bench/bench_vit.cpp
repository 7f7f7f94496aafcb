// bench_vit.cpp: the whole ViT forward pass, timed, with its peak memory; then one block and
// one attention head taken apart.
//
//   make bench                 (or: build/bench/bench_vit [--reps N] [--no-batch8])
//   python3 bench/pytorch_vit.py      torchvision's vit_b_16 at 384 px, same table style
//
// 1. vit_base_patch16_384 and vit_base_patch16_224, batch 1, with 1 and 2 threads: one warm-up,
//    then the median of --reps forwards (default 5). Building a model (initialising 86 M
//    random weights) takes seconds and is not timed. Right after the 384 runs: the peak
//    resident memory of the process (getrusage) against the size of the weights alone.
// 2. Batch 8 throughput, 2 threads, in images per second.
// 3. One block of vit_base_patch16_384 (577 tokens): attention and MLP separately.
// 4. One attention head (N = 577 tokens, D = 64), 1 thread: its two products with matmul,
//    and the whole head (both products and the softmax) with
//    scaled_dot_product_attention_blocked, which keeps the scores in cache
//    (tensor/ops/scaled_dot_product_attention_blocked.cpp). GFLOP/s counts 2 * M * N * K per
//    product.
// Random weights and images: the time does not depend on the values. The cpu/wall column is
// the CPU time of all threads over the wall time: near the thread count on an idle machine,
// clearly below it when other processes took the cores (then the times are pessimistic). With
// 2 threads it includes the waits the threads spin (up to 0.1 ms each, thread_pool.cpp).
// cpu ms is the median CPU time of one forward, all threads together: with 1 thread it stays
// close to the idle machine's wall time even under load.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench/bench.h"
#include "tensor/ops.h"
#include "vit/vision_transformer.h"

using namespace vitlab;

namespace {

struct Options {
    int reps = 5;
    bool batch8 = true;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            o.reps = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--no-batch8")) {
            o.batch8 = false;
        } else {
            std::fprintf(stderr, "usage: %s [--reps N] [--no-batch8]\n", argv[0]);
            std::exit(2);
        }
    }
    return o;
}

double mib(double bytes) {
    return bytes / (1024.0 * 1024.0);
}

// The forward table: the same columns as bench/pytorch_vit.py prints.
const bench::Table& forward_table() {
    static const bench::Table table({{"model", 34},
                                     {"batch", 5, bench::Align::Right},
                                     {"threads", 7, bench::Align::Right},
                                     {"median ms", 10, bench::Align::Right},
                                     {"min ms", 9, bench::Align::Right},
                                     {"images/s", 8, bench::Align::Right},
                                     {"cpu/wall", 8, bench::Align::Right},
                                     {"cpu ms", 9, bench::Align::Right}});
    return table;
}

void time_forward(const VisionTransformer& model, int64_t batch, int threads, int reps) {
    bench::Threads scope(threads);
    Generator gen(1);
    const int64_t size = model.config.img_size;
    const Tensor images = randn({batch, 3, size, size}, gen);
    Tensor logits;
    const bench::Timing t = bench::measure([&] { logits = model(images); }, reps, 1);
    forward_table().row({"vitlab " + model.config.name, std::to_string(batch),
                         std::to_string(threads), bench::fixed(t.median * 1e3, 1),
                         bench::fixed(t.min * 1e3, 1), bench::fixed(batch / t.median, 2),
                         bench::fixed(t.cpu_per_wall, 2), bench::fixed(t.cpu_median * 1e3, 1)});
}

void one_block(const VisionTransformer& model, int reps) {
    const nn::Block& block = model.blocks[0];
    Generator gen(2);
    const Tensor x = randn({1, model.config.num_tokens(), model.config.embed_dim}, gen);
    bench::Table table({{"one block, (1, 577, 768)", 44},
                        {"threads", 7, bench::Align::Right},
                        {"median ms", 10, bench::Align::Right}});
    table.header();
    for (int threads : {1, 2}) {
        bench::Threads scope(threads);
        Tensor y;
        const Tensor h1 = block.norm1(x);
        const int64_t H = block.attn.num_heads, D = block.attn.head_dim, N = x.size(1);
        const Tensor qkv = block.attn.qkv(h1).reshape({1, N, 3, H, D}).permute({2, 0, 3, 1, 4});
        auto row = [&](const char* name, const std::function<void()>& fn) {
            table.row({name, std::to_string(threads),
                       bench::fixed(bench::measure(fn, reps * 4, 2).median * 1e3, 2)});
        };
        row("attn(norm1(x))", [&] { y = block.attn(block.norm1(x)); });
        row("  qkv Linear", [&] { y = block.attn.qkv(h1); });
        row("  scaled_dot_product_attention", [&] {
            // with the heads merged, as the layer does: a view of the blocked result
            y = scaled_dot_product_attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2),
                                             block.attn.scale)
                    .transpose(1, 2)
                    .reshape({1, N, H * D});
        });
        row("  the same, unfused: matmul, softmax, matmul", [&] {
            // the (1, 12, 577, 577) scores go through memory, as in the naive version
            const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
            Tensor s = matmul(q * block.attn.scale, k.transpose(-2, -1), Kernel::Blocked);
            s = softmax(s, -1, Kernel::Blocked);
            y = matmul(s, v, Kernel::Blocked).transpose(1, 2).reshape({1, N, H * D});
        });
        row("  proj Linear", [&] { y = block.attn.proj(h1); });
        row("mlp(norm2(x))", [&] { y = block.mlp(block.norm2(x)); });
        row("  fc1 Linear", [&] { y = block.mlp.fc1(h1); });
        const Tensor hidden = block.mlp.fc1(h1);
        row("  GELU", [&] { y = block.mlp.act(hidden); });
        row("  fc2 Linear", [&] { y = block.mlp.fc2(hidden); });
        row("whole block", [&] { y = block(x); });
    }
}

void one_head(int reps) {
    const int64_t N = 577, D = 64;
    Generator gen(3);
    const Tensor q = randn({1, 1, N, D}, gen), k = randn({1, 1, N, D}, gen),
                 v = randn({1, 1, N, D}, gen);
    const Tensor q2 = q.view({N, D}), kt = k.view({N, D}).transpose(0, 1).contiguous(),
                 v2 = v.view({N, D});
    const Tensor attn = softmax(matmul(q2, kt) * 0.125f, -1);
    const double flops = 2.0 * N * N * D;  // one of the two products

    bench::Table table({{"one head, 577 tokens x 64, 1 thread", 42},
                        {"median ms", 9, bench::Align::Right},
                        {"GFLOP/s", 8, bench::Align::Right},
                        {"best GFLOP/s", 12, bench::Align::Right}});
    table.header();
    bench::Threads scope(1);
    Tensor out;
    // GFLOP/s of the median run, and of the fastest (the least disturbed by other processes)
    auto row = [&](const std::string& name, double count, int n, const std::function<void()>& fn) {
        const bench::Timing t = bench::measure(fn, n, 1);
        table.row({name, bench::fixed(t.median * 1e3, 3),
                   bench::fixed(bench::giga_per_second(count, t.median), 1),
                   bench::fixed(bench::giga_per_second(count, t.min), 1)});
    };
    row("matmul q @ k^T  (577, 64) @ (64, 577)", flops, reps * 20,
        [&] { out = matmul(q2, kt, Kernel::Blocked); });
    row("matmul attn @ v (577, 577) @ (577, 64)", flops, reps * 20,
        [&] { out = matmul(attn, v2, Kernel::Blocked); });
    // sdpa: scaled_dot_product_attention (tensor/ops/scaled_dot_product_attention.h)
    row("sdpa blocked (both + softmax)", 2 * flops, reps * 20,
        [&] { out = scaled_dot_product_attention_blocked(q, k, v, 0.125f); });
    row("sdpa naive (both + softmax)", 2 * flops, 3,
        [&] { out = scaled_dot_product_attention_naive(q, k, v, 0.125f); });
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    const std::string warning = bench::load_warning();
    if (!warning.empty()) std::printf("%s\n", warning.c_str());
    std::printf(
        "vitlab ViT forward: median of %d runs after 1 warm-up (model building not timed)\n%s\n\n",
        opt.reps, bench::isa_line().c_str());

    forward_table().header();
    const ViTConfig config384 = ViTConfig::preset("vit_base_patch16_384");
    auto model = std::make_unique<VisionTransformer>(config384);
    const double rss_built = double(bench::peak_rss_bytes());
    for (int threads : {1, 2}) time_forward(*model, 1, threads, opt.reps);
    const double rss_peak = double(bench::peak_rss_bytes());
    const double weights = 4.0 * double(config384.num_parameters());

    auto model224 = std::make_unique<VisionTransformer>(ViTConfig::preset("vit_base_patch16_224"));
    for (int threads : {1, 2}) time_forward(*model224, 1, threads, opt.reps);
    if (opt.batch8) {
        time_forward(*model, 8, 2, std::max(1, opt.reps / 2));
        time_forward(*model224, 8, 2, std::max(1, opt.reps / 2));
    }
    model224.reset();

    std::printf(
        "\npeak resident memory, vit_base_patch16_384 batch 1: %.0f MiB after building, %.0f MiB "
        "after the forwards\nweights %.0f MiB (%lld floats): peak / weights = %.3f\n\n",
        mib(rss_built), mib(rss_peak), mib(weights), (long long)config384.num_parameters(),
        rss_peak / weights);

    one_block(*model, opt.reps);
    std::printf("\n");
    one_head(opt.reps);
    return 0;
}
