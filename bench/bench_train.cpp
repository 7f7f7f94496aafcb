// bench_train.cpp: training steps of the vit_fmnist preset per second, and where the time goes.
//
//   make bench      (or: build/bench/bench_train [--steps N] [--warmup N] [--batch B]
//                                                [--threads 1,2] [--no-breakdown]
//                                                [--breakdown-threads N])
//   python3 bench/pytorch_train.py      PyTorch 1.13's side of the same benchmark
//
// One step is what a training loop does (tests/test_optim.cpp):
//   loss = cross_entropy(model(images), target); opt.zero_grad(); loss.backward(); opt.step()
// on vit_fmnist (28 x 28 x 1 images, patch 4: 49 tokens + the class token, width 64, depth 6,
// 4 heads, MLP 128, 10 classes) with AdamW (lr 3e-3, weight decay 0.05 on timm's groups),
// batch 128 of fixed random images and labels (seed 1). Warm-up steps, then the median of
// --steps timed steps in images/s, for 1 and 2 threads.
// On a shared machine the wall time includes waits for a core: "cpu ms" is the CPU time of one
// step (all threads), and "images/cpu-s" the batch over it; with 1 thread that is what an idle
// core would give (with 2 threads it includes the waits the threads spin, up to 0.1 ms each:
// thread_pool.cpp). The breakdown (after the timed steps) is in CPU time too on 1 thread, in
// wall-clock time with --breakdown-threads 2 (where the second thread gains little):
// forward / backward / optimiser per step, each kind of backward node
// (tensor/autograd_profile.h), and each forward op at the model's shapes, run alone (median).
// The values do not change the time.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench.h"
#include "optim/optim.h"
#include "tensor/autograd.h"
#include "tensor/autograd_profile.h"
#include "tensor/ops.h"
#include "vit/vision_transformer.h"

using namespace vitlab;

namespace {

struct Options {
    int steps = 20;
    int warmup = 3;
    int64_t batch = 128;
    std::vector<int> threads = {1, 2};
    bool breakdown = true;
    int breakdown_threads = 1;  // > 1: the breakdown in wall-clock time
};

[[noreturn]] void usage(const char* prog, const std::string& why) {
    std::fprintf(stderr,
                 "%s: %s\nusage: %s [--steps N] [--warmup N] [--batch B] [--threads 1,2] "
                 "[--no-breakdown] [--breakdown-threads N]\n",
                 prog, why.c_str(), prog);
    std::exit(2);
}

int positive(const char* prog, const char* flag, const char* text) {
    const int v = std::atoi(text);
    if (v < 1) usage(prog, std::string(flag) + " expects a positive number, got '" + text + "'");
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--steps" && has_value) {
            o.steps = positive(argv[0], "--steps", argv[++i]);
        } else if (a == "--warmup" && has_value) {
            o.warmup = std::max(0, std::atoi(argv[++i]));
        } else if (a == "--batch" && has_value) {
            o.batch = positive(argv[0], "--batch", argv[++i]);
        } else if (a == "--threads" && has_value) {
            o.threads.clear();
            std::string list = argv[++i];
            size_t start = 0;
            while (start <= list.size()) {
                const size_t comma = std::min(list.find(',', start), list.size());
                o.threads.push_back(
                    positive(argv[0], "--threads", list.substr(start, comma - start).c_str()));
                start = comma + 1;
            }
        } else if (a == "--no-breakdown") {
            o.breakdown = false;
        } else if (a == "--breakdown-threads" && has_value) {
            o.breakdown_threads = positive(argv[0], "--breakdown-threads", argv[++i]);
        } else {
            usage(argv[0], "unknown or incomplete argument '" + a + "'");
        }
    }
    return o;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    return "unknown CPU";
}

// The model, its optimiser and one fixed batch.
struct Trainer {
    VisionTransformer model{vit_fmnist(), 0};
    optim::AdamW opt;
    Tensor images, target;

    explicit Trainer(int64_t batch) : opt(make_optimizer(model)) {
        Generator gen(1);
        images = randn({batch, 1, 28, 28}, gen);
        std::vector<float> labels(static_cast<size_t>(batch));
        for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>((i * 7) % 10);
        target = from_vector(labels, {batch});
    }

    static optim::AdamW make_optimizer(VisionTransformer& m) {
        m.requires_grad_();
        optim::AdamWOptions o;
        o.lr = 3e-3;
        o.weight_decay = 0.05;
        return optim::AdamW(optim::param_groups_weight_decay(m.named_parameters(), 0.05), o);
    }

    // One step; with times != nullptr, the seconds of forward (with the loss), backward (with
    // zero_grad) and the optimiser are added to it: CPU seconds, or wall-clock ones if `wall`.
    void step(double* times = nullptr, bool wall = false) {
        auto now = [wall] { return wall ? bench::wall_seconds() : bench::process_cpu_seconds(); };
        Tensor loss;
        const double c0 = now();
        loss = cross_entropy(model(images), target);
        const double c1 = now();
        opt.zero_grad();
        loss.backward();
        const double c2 = now();
        opt.step();
        const double c3 = now();
        if (times) times[0] += c1 - c0, times[1] += c2 - c1, times[2] += c3 - c2;
    }
};

// Each forward op at the model's shapes, with recording on (as in training), run alone: the
// median CPU time, or the median wall-clock time if `wall`.
void forward_ops(const Trainer& t, int reps, bool wall) {
    const VisionTransformer& m = t.model;
    const nn::Block& blk = m.blocks[0];
    const int64_t B = t.images.size(0), N = m.config.num_tokens(), C = m.config.embed_dim;
    const int64_t H = blk.attn.num_heads, D = blk.attn.head_dim;
    const int64_t depth = m.config.depth;
    Generator gen(2);
    const Tensor x = randn({B, N, C}, gen).requires_grad_();
    const Tensor qkv = blk.attn.qkv(x).reshape({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});
    const Tensor hidden = blk.mlp.fc1(x);
    bench::Table table({{"forward op, (B, N, C) = (" + std::to_string(B) + ", " +
                             std::to_string(N) + ", " + std::to_string(C) + ")",
                         44},
                        {"calls", 5, bench::Align::Right},
                        {"ms/step", 8, bench::Align::Right}});
    table.header();
    Tensor y;
    double total = 0.0;
    auto row = [&](const std::string& name, int64_t calls, const std::function<void()>& fn) {
        const bench::Timing timing = bench::measure(fn, reps, 2);
        const double ms = (wall ? timing.median : timing.cpu_median) * 1e3 * double(calls);
        total += ms;
        table.row({name, std::to_string(calls), bench::fixed(ms, 2)});
    };
    row("patch_embed (conv 4x4 stride 4)", 1, [&] { y = m.patch_embed(t.images); });
    row("layer_norm", 2 * depth + 1, [&] { y = blk.norm1(x); });
    row("qkv Linear (64 -> 192)", depth, [&] { y = blk.attn.qkv(x); });
    row("scaled_dot_product_attention", depth, [&] {
        y = scaled_dot_product_attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2),
                                         blk.attn.scale)
                .transpose(1, 2)
                .reshape({B, N, C});
    });
    row("proj Linear (64 -> 64)", depth, [&] { y = blk.attn.proj(x); });
    row("fc1 Linear (64 -> 128)", depth, [&] { y = blk.mlp.fc1(x); });
    row("GELU (128)", depth, [&] { y = blk.mlp.act(hidden); });
    row("fc2 Linear (128 -> 64)", depth, [&] { y = blk.mlp.fc2(hidden); });
    row("residual add", 2 * depth, [&] { y = x + x; });
    std::printf("%-44s         %8.2f\n", "sum", total);
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    const std::string warning = bench::load_warning();
    if (!warning.empty()) std::printf("%s\n", warning.c_str());
    std::printf(
        "vitlab training step, vit_fmnist, batch %lld, AdamW: median of %d steps after %d "
        "warm-up\nCPU: %s\n%s\n\n",
        (long long)opt.batch, opt.steps, opt.warmup, cpu_model().c_str(),
        bench::isa_line().c_str());

    Trainer t(opt.batch);
    bench::Table table({{"threads", 7, bench::Align::Right},
                        {"median ms", 10, bench::Align::Right},
                        {"min ms", 8, bench::Align::Right},
                        {"images/s", 9, bench::Align::Right},
                        {"cpu/wall", 8, bench::Align::Right},
                        {"cpu ms", 8, bench::Align::Right},
                        {"images/cpu-s", 12, bench::Align::Right}});
    table.header();
    for (int threads : opt.threads) {
        bench::Threads scope(threads);
        const bench::Timing s = bench::measure([&] { t.step(); }, opt.steps, opt.warmup);
        table.row({std::to_string(threads), bench::fixed(s.median * 1e3, 2),
                   bench::fixed(s.min * 1e3, 2), bench::fixed(double(opt.batch) / s.median, 1),
                   bench::fixed(s.cpu_per_wall, 2), bench::fixed(s.cpu_median * 1e3, 2),
                   bench::fixed(double(opt.batch) / s.cpu_median, 1)});
    }
    if (!opt.breakdown) return 0;

    // One thread: CPU time, what an idle core would take. More: the wall clock, since CPU time
    // would add up the threads' work (and their spinning waits).
    const int n = opt.breakdown_threads;
    const bool wall = n > 1;
    bench::Threads use(n);
    std::printf("\nwhere the time goes, %d thread%s, %s, mean of %d steps\n\n", n, wall ? "s" : "",
                wall ? "wall-clock time" : "CPU time", opt.steps);
    double parts[3] = {0, 0, 0};
    autograd::BackwardProfile prof;
    for (int i = 0; i < opt.steps; ++i) t.step(parts, wall);
    autograd::set_backward_profile(
        &prof, wall ? autograd::ProfileClock::Wall : autograd::ProfileClock::ProcessCpu);
    for (int i = 0; i < opt.steps; ++i) t.step();
    autograd::set_backward_profile(nullptr);
    const double step_ms = (parts[0] + parts[1] + parts[2]) * 1e3 / opt.steps;
    bench::Table split(
        {{"part", 40}, {"ms/step", 8, bench::Align::Right}, {"share", 6, bench::Align::Right}});
    split.header();
    const char* names[3] = {"forward (model + cross_entropy)", "backward (zero_grad + backward)",
                            "optimiser (AdamW step)"};
    for (int i = 0; i < 3; ++i) {
        const double ms = parts[i] * 1e3 / opt.steps;
        split.row({names[i], bench::fixed(ms, 2), bench::fixed(100.0 * ms / step_ms, 1) + "%"});
    }
    split.row({"step", bench::fixed(step_ms, 2)});

    std::printf("\n");
    std::vector<std::pair<std::string, autograd::OpTime>> nodes(prof.begin(), prof.end());
    std::sort(nodes.begin(), nodes.end(),
              [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    bench::Table bwd({{"backward node (with its input sums)", 40},
                      {"calls", 5, bench::Align::Right},
                      {"ms/step", 8, bench::Align::Right}});
    bwd.header();
    double bwd_total = 0.0;
    for (const auto& [name, time] : nodes) {
        const double ms = time.seconds * 1e3 / opt.steps;
        bwd_total += ms;
        bwd.row({name, std::to_string(time.calls / opt.steps), bench::fixed(ms, 2)});
    }
    bwd.row({"sum", "", bench::fixed(bwd_total, 2)});

    std::printf("\n");
    forward_ops(t, opt.steps, wall);
    return 0;
}
