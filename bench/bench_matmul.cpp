// bench_matmul.cpp: how much faster matmul_blocked is than matmul_naive, on ViT-B's shapes.
//
//   make bench                      (or: build/bench/bench_matmul [--reps N] [--no-naive])
//
// The four products of one ViT-B/16 block at 384 px (577 tokens, width 768):
//   qkv   (577, 768)  @ (768, 2304)      fc1  (577, 768)  @ (768, 3072)
//   fc2   (577, 3072) @ (3072, 768)      proj (577, 768)  @ (768, 768)
// For each: naive once (it takes seconds), then blocked with 1 and 2 threads: two warm-up
// runs, then the median of --reps runs. GFLOP/s counts 2 * M * N * K operations. Before
// timing, the blocked result is checked against naive (tolerance of matmul.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "tensor/ops.h"

using namespace vitlab;

namespace {

double seconds_of(const std::function<void()>& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median_seconds(int reps, const std::function<void()>& fn) {
    for (int i = 0; i < 2; ++i) fn();  // warm-up: caches, page faults, the thread pool
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) t.push_back(seconds_of(fn));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// Largest |got - want| / sum_p |a[i][p] b[p][j]| (the tolerance of matmul.h is 1e-4).
double worst_relative_error(const Tensor& a, const Tensor& b, const Tensor& got,
                            const Tensor& want) {
    Tensor abs_a = map(a, [](float x) { return std::fabs(x); });
    Tensor abs_b = map(b, [](float x) { return std::fabs(x); });
    const Tensor scale = matmul(abs_a, abs_b, Kernel::Blocked);
    double worst = 0.0;
    const float *g = got.data(), *w = want.data(), *s = scale.data();
    for (int64_t i = 0; i < got.numel(); ++i)
        worst = std::max(worst, std::fabs(double(g[i]) - w[i]) / std::max(double(s[i]), 1e-30));
    return worst;
}

void row(const char* shape, const char* kernel, int threads, double s, double flops,
         double naive_s) {
    std::printf("%-18s %-8s %7d %11.1f %9.1f", shape, kernel, threads, s * 1e3, flops / s * 1e-9);
    if (naive_s > 0) std::printf("   %5.0fx naive", naive_s / s);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 10;
    bool naive = true;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--no-naive")) {
            naive = false;
        } else {
            std::fprintf(stderr, "usage: %s [--reps N] [--no-naive]\n", argv[0]);
            return 2;
        }
    }
    struct Case {
        const char* name;
        int64_t M, K, N;
    };
    const Case cases[] = {{"qkv", 577, 768, 2304},
                          {"fc1", 577, 768, 3072},
                          {"fc2", 577, 3072, 768},
                          {"proj", 577, 768, 768}};

    std::printf("matmul: c (M, N) = a (M, K) @ b (K, N), float32; blocked = median of %d runs\n",
                reps);
    double load = 0.0;
    const unsigned cores = std::thread::hardware_concurrency();
    if (getloadavg(&load, 1) == 1 && load > cores)
        std::printf(
            "note: load average %.1f on %u cores; other processes compete for the CPU, so "
            "these times are pessimistic\n",
            load, cores);
    std::printf("%-18s %-8s %7s %11s %9s\n", "M x K x N", "kernel", "threads", "time (ms)",
                "GFLOP/s");
    const int saved_threads = get_num_threads();
    Generator gen(0);
    for (const Case& c : cases) {
        const Tensor a = randn({c.M, c.K}, gen), b = randn({c.K, c.N}, gen);
        const double flops = 2.0 * c.M * c.N * c.K;
        char shape[64];
        std::snprintf(shape, sizeof shape, "%lldx%lldx%lld %s", (long long)c.M, (long long)c.K,
                      (long long)c.N, c.name);

        double naive_s = 0.0;
        if (naive) {
            Tensor want;
            naive_s = seconds_of([&] { want = matmul(a, b, Kernel::Naive); });
            row(shape, "naive", 1, naive_s, flops, 0.0);
            const double err = worst_relative_error(a, b, matmul(a, b, Kernel::Blocked), want);
            if (err > 1e-4) {
                std::printf("FAIL: blocked differs from naive by %.2e (relative)\n", err);
                return 1;
            }
        }
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            Tensor out;
            const double s = median_seconds(reps, [&] { out = matmul(a, b, Kernel::Blocked); });
            row(shape, "blocked", threads, s, flops, naive_s);
        }
        set_num_threads(saved_threads);
    }
    return 0;
}
