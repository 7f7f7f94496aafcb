// bench_ops.cpp: the elementwise kernels and the patch embedding, naive beside blocked, on the
// shapes of one ViT-B/16 block at 384 px (577 tokens, width 768, 12 heads).
//
//   make bench                      (or: build/bench/bench_ops [--reps N] [--no-naive])
//
//   softmax     attention scores (12, 577, 577) over dim -1
//   gelu        the MLP's hidden activations (577, 3072)
//   layer_norm  the tokens (577, 768)
//   patch embed conv2d of the image (1, 3, 384, 384) with (768, 3, 16, 16), stride 16
//
// Each row: the median wall-clock time of --reps runs after two warm-up runs (naive: 3 runs,
// it is slow), and the median CPU time of a run, all threads together. On an idle machine
// cpu is about threads x time; when other processes take the cores, time grows and cpu does
// not, so the 1-thread cpu column is what the kernel costs. Rates (from the wall time): GB/s
// counts the bytes a kernel must move at least (read x once, write out once); GFLOP/s counts
// 2 * C_in * kH * kW per output value. The single-thread targets sit next to the
// blocked 1-thread rows, judged on the wall time. Before timing, each blocked result is
// checked against naive.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "tensor/ops.h"

using namespace vitlab;

namespace {

struct Row {
    std::string op, shape, version;
    int threads;
    bench::Timing t;
    double rate;       // GB/s or GFLOP/s
    const char* unit;  // "GB/s" or "GFLOP/s"
    double target_ms;  // 0: no target on this row
};

std::vector<Row> g_rows;
int g_reps = 10;

// Times fn and records one row; slow (naive) kernels get 1 warm-up and 3 runs.
void time_row(const std::string& op, const std::string& shape, const std::string& version,
              int threads, bool slow, double amount, const char* unit, double target_ms,
              const std::function<void()>& fn) {
    bench::Threads scope(threads);
    const bench::Timing t = slow ? bench::measure(fn, 3, 1) : bench::measure(fn, g_reps, 2);
    g_rows.push_back({op, shape, version, threads, t, bench::giga_per_second(amount, t.median),
                      unit, target_ms});
}

// Blocked within tolerance of naive, else the benchmark stops: a fast wrong kernel is no result.
bool agree(const char* op, const Tensor& blocked, const Tensor& naive, float atol, float rtol) {
    if (allclose(blocked, naive, rtol, atol)) return true;
    std::printf("FAIL: %s blocked differs from naive by %.3g (max abs)\n", op,
                max_abs_diff(blocked, naive));
    return false;
}

void print_table() {
    bench::Table table({{"op", 11},
                        {"shape", 29},
                        {"version", 24},
                        {"threads", 7, bench::Align::Right},
                        {"time (ms)", 9, bench::Align::Right},
                        {"cpu (ms)", 8, bench::Align::Right},
                        {"rate", 13, bench::Align::Right},
                        {"target (1 thread)", 17},
                        {"met", 3}});
    table.header();
    for (const Row& r : g_rows) {
        std::string target, met;
        if (r.target_ms > 0) {
            target = "<= " + bench::fixed(r.target_ms, 1) + " ms";
            met = r.t.median <= r.target_ms * 1e-3 ? "yes" : "no";
        }
        table.row({r.op, r.shape, r.version, std::to_string(r.threads),
                   bench::fixed(r.t.median * 1e3, 3), bench::fixed(r.t.cpu_median * 1e3, 3),
                   bench::fixed(r.rate, 1) + " " + r.unit, target, met});
    }
}

}  // namespace

// How long parallel_for takes to start its second chunk on 2 threads: a job right after the
// last (as the products of a forward follow each other) and one after 1 ms of idleness. A
// worker spins up to 0.1 ms for the next job before it sleeps (tensor/parallel/thread_pool.cpp).
void print_pool_start() {
    bench::Threads two(2);
    using Clock = std::chrono::steady_clock;
    std::printf(
        "\nparallel_for on 2 threads: from the call to the start of chunk 1 (us, 400 jobs)\n");
    for (const int idle_us : {0, 1000}) {
        std::vector<double> start_us;
        for (int job = 0; job < 400; ++job) {
            const auto idle_end = Clock::now() + std::chrono::microseconds(idle_us);
            while (Clock::now() < idle_end) {
            }
            std::atomic<int64_t> started_ns{-1};
            const auto t0 = Clock::now();
            parallel_for(0, 2, [&](int64_t begin, int64_t) {
                if (begin == 1) started_ns = std::chrono::nanoseconds(Clock::now() - t0).count();
                const auto busy_end = Clock::now() + std::chrono::microseconds(50);
                while (Clock::now() < busy_end) {
                }
            });
            start_us.push_back(static_cast<double>(started_ns.load()) / 1e3);
        }
        std::sort(start_us.begin(), start_us.end());
        std::printf("  %-22s median %6.1f   90th percentile %6.1f\n",
                    idle_us ? "after 1 ms idle:" : "right after the last:", start_us[200],
                    start_us[360]);
    }
}

int main(int argc, char** argv) {
    bool naive = true;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            g_reps = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--no-naive")) {
            naive = false;
        } else {
            std::fprintf(stderr, "usage: %s [--reps N] [--no-naive]\n", argv[0]);
            return 2;
        }
    }
    std::printf("elementwise ops and patch embedding, float32; median of %d runs\n%s\n", g_reps,
                bench::isa_line().c_str());
    const std::string warning = bench::load_warning();
    if (!warning.empty()) std::printf("%s\n", warning.c_str());

    Generator gen(0);

    // ---- softmax over the attention scores ------------------------------------------------
    {
        const Shape shape{12, 577, 577};
        const Tensor x = randn(shape, gen) * 3.0f;
        const double bytes = 2.0 * 4.0 * static_cast<double>(x.numel());
        const std::string s = "(12, 577, 577), dim -1";
        if (!agree("softmax", softmax_blocked(x, -1), softmax_naive(x, -1), 1e-6f, 0.0f)) return 1;
        if (naive)
            time_row("softmax", s, "naive", 1, true, bytes, "GB/s", 0,
                     [&] { Tensor y = softmax_naive(x, -1); });
        for (int threads : {1, 2}) {
            // The result of one call is freed before the next: malloc hands the same memory
            // back, already mapped (as in a forward pass, where each block's scores are freed).
            time_row("softmax", s, "blocked", threads, false, bytes, "GB/s", threads == 1 ? 1.5 : 0,
                     [&] { Tensor y = softmax_blocked(x, -1); });
        }
        for (int threads : {1, 2}) {
            // In place: the scores are overwritten by their probabilities (attention's case).
            // Softmax of a softmax is as much work as the first, so x can be reused.
            Tensor scores = x.clone();
            time_row("softmax", s, "blocked, in place", threads, false, bytes, "GB/s",
                     threads == 1 ? 1.5 : 0, [&] { softmax_(scores, -1); });
        }
        {
            // Keeping the previous result alive while the next is made: every call gets fresh
            // pages from the kernel, and the first write to each 4 KB page is a page fault.
            Tensor kept;
            time_row("softmax", s, "blocked, fresh pages", 1, false, bytes, "GB/s", 0,
                     [&] { kept = softmax_blocked(x, -1); });
        }
    }

    // ---- GELU over the MLP's hidden activations -------------------------------------------
    {
        const Tensor x = randn({577, 3072}, gen) * 2.0f;
        const double bytes = 2.0 * 4.0 * static_cast<double>(x.numel());
        const std::string s = "(577, 3072)";
        if (!agree("gelu", gelu_blocked(x), gelu_naive(x), 1e-6f, 0.0f)) return 1;
        if (naive)
            time_row("gelu", s, "naive", 1, true, bytes, "GB/s", 0,
                     [&] { Tensor y = gelu_naive(x); });
        for (int threads : {1, 2})
            time_row("gelu", s, "blocked", threads, false, bytes, "GB/s", threads == 1 ? 0.5 : 0,
                     [&] { Tensor y = gelu_blocked(x); });
    }

    // ---- layer norm over the tokens ---------------------------------------------------------
    {
        const Tensor x = randn({577, 768}, gen) * 2.0f + 0.5f;
        const Tensor w = randn({768}, gen), b = randn({768}, gen);
        const double bytes = 2.0 * 4.0 * static_cast<double>(x.numel());
        const std::string s = "(577, 768)";
        if (!agree("layer_norm", layer_norm_blocked(x, w, b), layer_norm_naive(x, w, b), 1e-5f,
                   1e-5f))
            return 1;
        if (naive)
            time_row("layer_norm", s, "naive", 1, true, bytes, "GB/s", 0,
                     [&] { Tensor y = layer_norm_naive(x, w, b); });
        for (int threads : {1, 2})
            time_row("layer_norm", s, "blocked", threads, false, bytes, "GB/s",
                     threads == 1 ? 0.1 : 0, [&] { Tensor y = layer_norm_blocked(x, w, b); });
    }

    // ---- patch embedding: conv2d with stride = kernel = 16 ---------------------------------
    {
        const Tensor image = randn({1, 3, 384, 384}, gen);
        const Tensor w = randn({768, 3, 16, 16}, gen) * 0.05f, b = randn({768}, gen);
        const double flops = 2.0 * 768 * (3 * 16 * 16) * (24 * 24);
        const std::string s = "(1,3,384,384) * (768,3,16,16)";
        if (naive) {
            if (!agree("conv2d", conv2d_blocked(image, w, b, 16), conv2d_naive(image, w, b, 16),
                       1e-4f, 1e-4f))
                return 1;
            time_row("patch embed", s, "naive", 1, true, flops, "GFLOP/s", 0,
                     [&] { Tensor y = conv2d_naive(image, w, b, 16); });
        }
        for (int threads : {1, 2})
            time_row("patch embed", s, "blocked", threads, false, flops, "GFLOP/s",
                     threads == 1 ? 4.0 : 0, [&] { Tensor y = conv2d_blocked(image, w, b, 16); });
    }

    print_table();
    {
        // The patch embedding is one (576, 768) @ (768, 768) product: no kernel can beat the
        // time the FMA units need for it.
        bench::Threads one(1);
        const double peak = bench::peak_gflops_one_core();
        const double flops = 2.0 * 768 * (3 * 16 * 16) * (24 * 24);
        std::printf(
            "patch embed: %.1f MFLOP; at the measured peak of one core (%.1f GFLOP/s) it "
            "takes at least %.2f ms;\n  the 4 ms target needs %.0f GFLOP/s.\n",
            flops / 1e6, peak, flops / peak / 1e6, flops / 4e-3 / 1e9);
    }
    print_pool_start();
    std::printf(
        "naive kernels are single-threaded (they are the formulas), so they run once, with 1 "
        "thread.\npeak resident memory of this program: %.0f MB\n",
        bench::peak_rss_mb());
    return 0;
}
