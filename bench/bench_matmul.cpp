// bench_matmul.cpp: the matmul ladder and the blocked kernel against OpenBLAS, on ViT-B shapes.
//
//   make bench                       (or: build/bench/bench_matmul [--reps N] [--no-ladder])
//
// The four products of one ViT-B/16 block at 384 px (577 tokens, width 768):
//   qkv   (577, 768)  @ (768, 2304)      fc1  (577, 768)  @ (768, 3072)
//   fc2   (577, 3072) @ (3072, 768)      proj (577, 768)  @ (768, 768)
// For each shape, every rung of matmul_ladder.h on 1 thread (3 runs; ijk once, on 64 rows),
// then blocked with 1 and 2 threads, "prepacked" (b packed once by pack_b, as a Linear layer
// does), and OpenBLAS's cblas_sgemm when it was found at build time (the Makefile defines
// VITLAB_HAVE_OPENBLAS and links -lopenblas). Times are medians after warm-up runs; blocked
// and OpenBLAS on 1 thread are timed in alternation so that a busy machine slows both alike.
// OpenBLAS on 2 threads is timed after everything else: its idle threads spin for a while
// after each call and would steal the core from ours. GFLOP/s counts 2 * M * N * K. Each
// result is checked first (tolerance of matmul.h) against the blocked one, and blocked
// against OpenBLAS or, without it, against the ijk rung. On 1 thread the table also gives
// GFLOP/s in the thread's CPU time, which a busy machine does not inflate.
//
// A fair baseline: OpenBLAS picks its kernels from the CPU at load time, and 0.3.21 takes
// CPUs it does not know for old ones (a Sapphire Rapids became "Prescott", no AVX: 33 instead
// of 156 GFLOP/s; an AMD Zen 5 with AVX-512 becomes "Haswell", AVX2 only). When its core lacks
// the CPU's widest SIMD (AVX2, AVX-512), the program runs itself again with
// OPENBLAS_CORETYPE=Haswell or SkylakeX (read only when the library loads) and says so.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "tensor/ops.h"
#include "tensor/ops/matmul_ladder.h"

#if defined(VITLAB_HAVE_OPENBLAS) && __has_include(<cblas.h>)
#include <cblas.h>
#define HAVE_OPENBLAS 1
#else
#define HAVE_OPENBLAS 0
#endif

using namespace vitlab;

namespace {

struct Case {
    const char* name;
    int64_t M, K, N;
};

#if HAVE_OPENBLAS
// OpenBLAS cores (0.3.21) with AVX2 + FMA kernels, and those of them with AVX-512 kernels; any
// other is generic or older.
bool openblas_core_in(const std::string& core, std::initializer_list<const char*> names) {
    for (const char* name : names)
        if (strcasecmp(core.c_str(), name) == 0) return true;
    return false;
}
bool openblas_core_has(const std::string& core, Isa isa) {
    if (isa == Isa::Avx512)
        return openblas_core_in(core, {"skylakex", "cooperlake", "sapphirerapids"});
    if (isa == Isa::Avx2)
        return openblas_core_in(
            core, {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"});
    return true;
}

// Runs this program again with OPENBLAS_CORETYPE set when OpenBLAS chose a core without the
// CPU's widest SIMD; returns the note to print ("" when nothing was changed).
std::string fair_openblas_core(char** argv) {
    const std::string core = openblas_get_corename();
    const Isa widest = available_isas().back();
    const char* fixed = std::getenv("VITLAB_BENCH_OPENBLAS_FIXED");
    if (fixed)
        return fmt::format(
            "OpenBLAS core {}: set with OPENBLAS_CORETYPE by this program (it chose {}, "
            "without the {} of this CPU)",
            core, fixed, to_string(widest));
    if (openblas_core_has(core, widest)) return "";
    const char* want = widest == Isa::Avx512 ? "SkylakeX" : "Haswell";
    std::printf(
        "OpenBLAS chose core %s, without the %s of this CPU: running again with "
        "OPENBLAS_CORETYPE=%s\n",
        core.c_str(), to_string(widest), want);
    std::fflush(stdout);
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("VITLAB_BENCH_OPENBLAS_FIXED", core.c_str(), 1);
    execv("/proc/self/exe", argv);
    execv(argv[0], argv);  // no /proc (macOS): the path it was started with
    std::perror("bench_matmul: could not run itself again");
    std::exit(2);
}

void openblas_sgemm(const Tensor& a, const Tensor& b, Tensor& c) {
    const int M = static_cast<int>(a.size(0)), K = static_cast<int>(a.size(1)),
              N = static_cast<int>(b.size(1));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a.data(), K, b.data(), N,
                0.0f, c.data(), N);
}
#endif

// Largest |got - want| / sum_p |a[i][p] b[p][j]| (the tolerance of matmul.h is 1e-4).
double worst_relative_error(const Tensor& a, const Tensor& b, const Tensor& got,
                            const Tensor& want) {
    const Tensor scale = matmul(map(a, [](float x) { return std::fabs(x); }),
                                map(b, [](float x) { return std::fabs(x); }), Kernel::Blocked);
    double worst = 0.0;
    const float *g = got.data(), *w = want.data(), *s = scale.data();
    for (int64_t i = 0; i < got.numel(); ++i)
        worst = std::max(worst, std::fabs(double(g[i]) - w[i]) / std::max(double(s[i]), 1e-30));
    return worst;
}

bool check(const char* what, const Case& c, const Tensor& a, const Tensor& b, const Tensor& got,
           const Tensor& want) {
    const double err = worst_relative_error(a, b, got, want);
    if (err <= 1e-4) return true;
    std::printf("FAIL: %s on %s differs by %.2e (relative)\n", what, c.name, err);
    return false;
}

double median_of(std::vector<double> t) {
    std::sort(t.begin(), t.end());
    const size_t n = t.size();
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

// CPU time of the calling thread: unlike the wall clock, it does not count the time other
// processes hold the core, so on a busy machine it shows what a 1-thread kernel would do alone.
double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

struct PairTimes {
    double f_wall, g_wall, f_cpu, g_cpu;  // medians, seconds
};

// f and g timed in alternation after one warm-up call each, so that a busy machine slows both
// alike: median wall-clock and median thread CPU time of each.
PairTimes alternating_medians(const std::function<void()>& f, const std::function<void()>& g,
                              int reps) {
    f(), g();
    std::vector<double> fw, gw, fc, gc;
    for (int i = 0; i < reps; ++i) {
        double c0 = thread_cpu_seconds();
        fw.push_back(bench::seconds_of(f));
        fc.push_back(thread_cpu_seconds() - c0);
        c0 = thread_cpu_seconds();
        gw.push_back(bench::seconds_of(g));
        gc.push_back(thread_cpu_seconds() - c0);
    }
    return {median_of(fw), median_of(gw), median_of(fc), median_of(gc)};
}

struct Row {
    std::string shape, version;
    int threads;
    double seconds, flops;
    std::string note;
    double cpu_seconds = 0.0;  // 1-thread blocked and OpenBLAS only
};

}  // namespace

int main(int argc, char** argv) {
    int reps = 11;
    bool ladder = true;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--no-ladder")) {
            ladder = false;
        } else {
            std::fprintf(stderr, "usage: %s [--reps N] [--no-ladder]\n", argv[0]);
            return 2;
        }
    }
#if HAVE_OPENBLAS
    const std::string openblas_note = fair_openblas_core(argv);  // before printing anything
#endif
    const Case cases[] = {{"qkv", 577, 768, 2304},
                          {"fc1", 577, 768, 3072},
                          {"fc2", 577, 3072, 768},
                          {"proj", 577, 768, 768}};

    std::printf(
        "matmul: c (M, N) = a (M, K) @ b (K, N), float32; median of %d runs "
        "(ijk: 1 run, other ladder rungs: 3)\n",
        reps);
    std::printf("%s\n", bench::isa_line().c_str());
#if HAVE_OPENBLAS
    std::printf("OpenBLAS %s, core %s\n", openblas_get_config(), openblas_get_corename());
    if (!openblas_note.empty()) std::printf("%s\n", openblas_note.c_str());
#else
    std::printf(
        "OpenBLAS not found at build time (apt-get install libopenblas-dev): no reference "
        "column\n");
#endif
    const std::string warning = bench::load_warning();
    if (!warning.empty()) std::printf("%s\n", warning.c_str());
    {
        bench::Threads one(1);
        std::printf(
            "peak of one core: %.1f GFLOP/s (fused multiply-adds on %d-float registers, "
            "measured)\n",
            bench::peak_gflops_one_core(), int(cpu::kernels().matmul.lanes));
    }

    std::vector<Row> rows;
    std::vector<double> blocked_s[2], openblas_s[2];  // per case, for 1 and 2 threads
    std::vector<double> openblas_cpu;                 // per case, 1 thread, CPU time
    Generator gen(0);
    std::vector<Tensor> as, bs;
    for (const Case& c : cases) {
        as.push_back(randn({c.M, c.K}, gen));
        bs.push_back(randn({c.K, c.N}, gen));
    }

    for (size_t ci = 0; ci < std::size(cases); ++ci) {
        const Case& c = cases[ci];
        const Tensor &a = as[ci], &b = bs[ci];
        const double flops = 2.0 * c.M * c.N * c.K;
        char shape[64];
        std::snprintf(shape, sizeof shape, "%s %lldx%lldx%lld", c.name, (long long)c.M,
                      (long long)c.K, (long long)c.N);
        Tensor want = empty({c.M, c.N}), got = empty({c.M, c.N});
        bench::Threads one(1);
        gemm_blocked(a, b, want);

        if (ladder) {
            for (const MatmulRung& rung : matmul_ladder()) {
                if (rung.gemm == static_cast<decltype(rung.gemm)>(gemm_blocked)) continue;
                // ijk takes seconds on the whole product: it runs once, on the first 64 rows
                // of a (its speed per row does not depend on how many rows there are).
                const bool slow = !std::strcmp(rung.name, "ijk");
                const int64_t m = slow ? 64 : c.M;
                const Tensor a_rows = a.narrow(0, 0, m);
                Tensor out = empty({m, c.N});
                const PairTimes t =
                    alternating_medians([&] { rung.gemm(a_rows, b, out); }, [] {}, slow ? 1 : 3);
                if (!check(rung.name, c, a_rows, b, out, want.narrow(0, 0, m).contiguous()))
                    return 1;
                rows.push_back({shape, rung.name, 1, t.f_wall, 2.0 * m * c.N * c.K,
                                slow ? "first 64 rows of a, 1 run" : "", t.f_cpu});
            }
        }

#if HAVE_OPENBLAS
        openblas_set_num_threads(1);
        openblas_sgemm(a, b, got);
        if (!check("blocked vs OpenBLAS", c, a, b, want, got)) return 1;
        const PairTimes pt = alternating_medians([&] { gemm_blocked(a, b, got); },
                                                 [&] { openblas_sgemm(a, b, got); }, reps);
        const double tb = pt.f_wall, tb_cpu = pt.f_cpu;
        openblas_s[0].push_back(pt.g_wall);
        openblas_cpu.push_back(pt.g_cpu);
#else
        const PairTimes pt = alternating_medians([&] { gemm_blocked(a, b, got); }, [] {}, reps);
        const double tb = pt.f_wall, tb_cpu = pt.f_cpu;
        if (!ladder) {
            gemm_ijk(a, b, got);
            if (!check("blocked vs ijk", c, a, b, want, got)) return 1;
        }
#endif
        blocked_s[0].push_back(tb);
        rows.push_back({shape, "blocked", 1, tb, flops, "", tb_cpu});

        const PackedB packed = pack_b(b);
        const PairTimes tp =
            alternating_medians([&] { gemm_blocked(a, packed, got); }, [] {}, reps);
        if (!check("prepacked", c, a, b, got, want)) return 1;
        rows.push_back({shape, "prepacked", 1, tp.f_wall, flops, "", tp.f_cpu});
        {
            bench::Threads two(2);
            const double t2 = bench::measure([&] { gemm_blocked(a, b, got); }, reps).median;
            blocked_s[1].push_back(t2);
            rows.push_back({shape, "blocked", 2, t2, flops, ""});
            const double tp2 = bench::measure([&] { gemm_blocked(a, packed, got); }, reps).median;
            rows.push_back({shape, "prepacked", 2, tp2, flops, ""});
        }
    }

#if HAVE_OPENBLAS
    openblas_set_num_threads(2);
    for (size_t ci = 0; ci < std::size(cases); ++ci) {
        Tensor got = empty({cases[ci].M, cases[ci].N});
        openblas_s[1].push_back(
            bench::measure([&] { openblas_sgemm(as[ci], bs[ci], got); }, reps).median);
    }
#endif

    bench::Table table({{"M x K x N", 18},
                        {"version", 13},
                        {"threads", 7, bench::Align::Right},
                        {"time (ms)", 10, bench::Align::Right},
                        {"GFLOP/s", 8, bench::Align::Right},
                        {"CPU GFLOP/s", 11, bench::Align::Right},
                        {"note", 4}});
    table.header();
    auto print = [&](const Row& r) {
        table.row({r.shape, r.version, std::to_string(r.threads), bench::fixed(r.seconds * 1e3, 2),
                   bench::fixed(bench::giga_per_second(r.flops, r.seconds), 1),
                   r.cpu_seconds > 0
                       ? bench::fixed(bench::giga_per_second(r.flops, r.cpu_seconds), 1)
                       : "",
                   r.note});
    };
    size_t next = 0;
    for (size_t ci = 0; ci < std::size(cases); ++ci) {
        const Case& c = cases[ci];
        for (; next < rows.size() && rows[next].shape.rfind(c.name, 0) == 0; ++next) {
            Row r = rows[next];
            if (r.version == "blocked") {
                const double speedup = blocked_s[0][ci] / r.seconds;
#if HAVE_OPENBLAS
                char note[96];
                std::snprintf(note, sizeof note, "%.2fx OpenBLAS",
                              openblas_s[r.threads - 1][ci] / r.seconds);
                r.note = note;
                if (r.threads == 1)
                    r.note +=
                        " (CPU time: " + bench::fixed(openblas_cpu[ci] / r.cpu_seconds, 2) + "x)";
#endif
                if (r.threads == 2) r.note += "  " + bench::fixed(speedup, 2) + "x its 1 thread";
            }
            print(r);
        }
#if HAVE_OPENBLAS
        const double flops = 2.0 * c.M * c.N * c.K;
        for (int t = 0; t < 2; ++t)
            print({rows[next - 1].shape, "OpenBLAS", t + 1, openblas_s[t][ci], flops, "",
                   t == 0 ? openblas_cpu[ci] : 0.0});
#endif
    }
    return 0;
}
