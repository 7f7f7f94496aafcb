// bench.h: the measuring tools every bench/*.cpp program shares.
//
//   const bench::Timing t = bench::measure([&] { out = softmax(x, -1); });   // t.median seconds
//   bench::Table table({{"kernel", 10}, {"threads", 7, bench::Align::Right}, ...});
//   table.header();  table.row({"blocked", "1", bench::fixed(t.median * 1e3, 3)});
//   { bench::Threads scope(2); ... }        // 2 threads inside the braces, then the old count
//   bench::peak_rss_bytes()                 // most resident memory this process has held
//
// Why the median after a warm-up: the first runs pay for page faults on fresh buffers, cold
// caches and waking the thread pool; later runs are occasionally slowed by another process.
// The median of several runs ignores both kinds of outlier, the mean would not.
// Header-only so that each bench program is one .cpp file linked against libvitlab.a.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/kernels.h"
#include "tensor/parallel/thread_pool.h"
#include "tensor/util/exit_on_uncaught.h"

namespace vitlab {
namespace bench {

// ---- timing ---------------------------------------------------------------------------------

inline double seconds_of(const std::function<void()>& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Wall-clock seconds from an arbitrary start (steady: never jumps).
inline double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// CPU time used so far by all threads of this process, in seconds.
inline double process_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Timing {
    double median = 0.0;  // wall-clock seconds of one run
    double min = 0.0;
    double max = 0.0;
    // CPU seconds per wall second over the timed runs: about the number of threads working
    // when the machine is otherwise idle; clearly less means other processes took the cores.
    double cpu_per_wall = 0.0;
    double cpu_median = 0.0;  // CPU seconds of one run, all threads together
    int runs = 0;
};

inline double median_of(std::vector<double> t) {
    std::sort(t.begin(), t.end());
    const size_t h = t.size() / 2;
    return t.size() % 2 ? t[h] : 0.5 * (t[h - 1] + t[h]);
}

// `warmup` untimed calls, then `reps` timed ones (reps >= 1).
inline Timing measure(const std::function<void()>& fn, int reps = 10, int warmup = 2) {
    for (int i = 0; i < warmup; ++i) fn();
    std::vector<double> t, c;
    for (int i = 0; i < std::max(reps, 1); ++i) {
        const double cpu0 = process_cpu_seconds();
        t.push_back(seconds_of(fn));
        c.push_back(process_cpu_seconds() - cpu0);
    }
    Timing out;
    out.median = median_of(t);
    out.min = *std::min_element(t.begin(), t.end());
    out.max = *std::max_element(t.begin(), t.end());
    double wall = 0.0, cpu = 0.0;
    for (size_t i = 0; i < t.size(); ++i) wall += t[i], cpu += c[i];
    out.cpu_per_wall = wall > 0.0 ? cpu / wall : 0.0;
    out.cpu_median = median_of(c);
    out.runs = static_cast<int>(t.size());
    return out;
}

inline double median_seconds(const std::function<void()>& fn, int reps = 10, int warmup = 2) {
    return measure(fn, reps, warmup).median;
}

// Rates: operations (or bytes) per second, in units of 1e9.
inline double giga_per_second(double count, double seconds) {
    return seconds > 0.0 ? count / seconds * 1e-9 : 0.0;
}

// ---- memory ---------------------------------------------------------------------------------

// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss is in
// kilobytes on Linux and in bytes on macOS). It never goes down: measure a program's peak by
// running the interesting part first, or in a fresh process.
inline int64_t peak_rss_bytes() {
    struct rusage usage {};
    if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
#if defined(__APPLE__)
    return static_cast<int64_t>(usage.ru_maxrss);
#else
    return static_cast<int64_t>(usage.ru_maxrss) * 1024;
#endif
}

inline double peak_rss_mb() {
    return static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
}

// ---- threads --------------------------------------------------------------------------------

// Uses `n` threads for the kernels until the end of the scope, then restores the old count.
class Threads {
  public:
    explicit Threads(int n) : saved_(get_num_threads()) { set_num_threads(n); }
    ~Threads() { set_num_threads(saved_); }
    Threads(const Threads&) = delete;
    Threads& operator=(const Threads&) = delete;

  private:
    int saved_;
};

// The peak of one core in GFLOP/s, measured: 12 independent chains of fused multiply-adds on
// whole registers of the instruction set in use (tensor/cpu/matmul_kernels.cpp), enough to
// keep every FMA unit busy whatever its latency. Every GFLOP/s in the tables is bounded by
// this; the median of 5 runs of ~0.1 s.
inline double peak_gflops_one_core() {
    const cpu::MatmulKernels& mk = cpu::kernels().matmul;
    constexpr int64_t kSteps = 1 << 21;
    float sink = 0.0f;  // the results are used, so that the loop is not optimised away
    std::vector<double> rates;
    for (int run = 0; run < 5; ++run) {
        const double s = seconds_of([&] { sink += mk.fma_chains(kSteps); });
        rates.push_back(2.0 * mk.lanes * cpu::kFmaChains * double(kSteps) / s / 1e9);
    }
    if (sink == 12345.0f) std::printf(" ");
    return median_of(rates);
}

// One line for every program's header: the instruction set the kernels use.
inline std::string isa_line() {
    return "kernels: " + isa_summary() + "; VITLAB_ISA=portable|avx2|avx512 picks another";
}

// A line to print before a table when other processes compete for the cores ("" if none do).
inline std::string load_warning() {
    double load = 0.0;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    if (getloadavg(&load, 1) != 1 || load <= cores) return "";
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "note: load average %.1f on %u cores; other processes compete for the CPU, "
                  "so these times are pessimistic (and threads may not scale)",
                  load, cores);
    return buf;
}

// ---- a fixed-width table --------------------------------------------------------------------

enum class Align { Left, Right };

struct Column {
    std::string title;
    int width;
    Align align = Align::Left;
};

// Columns are separated by two spaces; a cell wider than its column pushes the rest right.
class Table {
  public:
    explicit Table(std::vector<Column> columns, std::FILE* out = stdout)
        : columns_(std::move(columns)), out_(out) {}

    void header() const {
        std::vector<std::string> titles;
        for (const Column& c : columns_) titles.push_back(c.title);
        row(titles);
        std::string rule;
        for (size_t i = 0; i < columns_.size(); ++i)
            rule += std::string(i ? 2 : 0, ' ') + std::string(columns_[i].width, '-');
        std::fprintf(out_, "%s\n", rule.c_str());
    }

    // Missing trailing cells are left blank; extra cells are printed after the last column.
    void row(const std::vector<std::string>& cells) const {
        std::string line;
        for (size_t i = 0; i < std::max(cells.size(), columns_.size()); ++i) {
            const std::string cell = i < cells.size() ? cells[i] : "";
            const int width = i < columns_.size() ? columns_[i].width : 0;
            const Align align = i < columns_.size() ? columns_[i].align : Align::Left;
            const std::string pad(std::max<int>(0, width - static_cast<int>(cell.size())), ' ');
            if (i) line += "  ";
            line += align == Align::Right ? pad + cell : cell + pad;
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        std::fprintf(out_, "%s\n", line.c_str());
    }

  private:
    std::vector<Column> columns_;
    std::FILE* out_;
};

// A number with `digits` digits after the point, as a table cell.
inline std::string fixed(double value, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, value);
    return buf;
}

}  // namespace bench
}  // namespace vitlab
