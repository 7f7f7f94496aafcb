// train.cpp: `vit train`: a ViT taught from scratch on Fashion-MNIST (train/trainer.h has the
// loop; this file turns flags into its options and the dataset and model into its inputs).
//
//   vit train --data fashion-mnist --model vit_fmnist --epochs 10 --batch 128 --lr 3e-3
//             --out runs/fmnist/
// stderr: a progress line per epoch (on a terminal), one line after each epoch with the test
// loss and accuracy, the peak memory at the end. --out receives model.safetensors (loadable by
// classify and explain), optimizer.safetensors (for --resume), metrics.csv and curves.png.
// Ctrl-C finishes the current step, saves a mid-epoch checkpoint and exits with status 130.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <ostream>
#include <streambuf>

#include "cli/args.h"
#include "cli/commands.h"
#include "dataset/fashion_mnist.h"
#include "tensor/parallel/thread_pool.h"
#include "tensor/util/progress.h"
#include "train/trainer.h"
#include "vision/image.h"
#include "vision/png_write.h"
#include "vit/config.h"
#include "vit/init_weights.h"

namespace vitlab::cli {

const std::vector<Option> kTrainOptions = join_options(
    {{{"--data", "NAME", "the dataset: fashion-mnist (the only one)"},
      {"--data-dir", "DIR",
       "where its IDX files are (default $FASHION_MNIST_DIR, else "
       "/usr/share/datasets/fashion-mnist/)"},
      {"--model", "NAME", "a preset to start from (default vit_fmnist)"},
      {"--dim", "C", "width (embed_dim) over the preset's"},
      {"--depth", "N", "blocks over the preset's"},
      {"--heads", "N", "attention heads over the preset's"},
      {"--mlp", "M", "MLP hidden size over the preset's"},
      {"--patch", "P", "patch size over the preset's (must divide 28)"},
      {"--epochs", "N", "epochs (default 10)"},
      {"--until-epoch", "N", "stop after epoch N, to --resume later (the schedule spans --epochs)"},
      {"--batch", "B", "batch size (default 128)"},
      {"--lr", "X", "peak learning rate of AdamW (default 3e-3)"},
      {"--weight-decay", "X", "AdamW weight decay on weights, not biases/norms (default 0.05)"},
      {"--warmup", "F", "fraction of the steps spent warming up, then cosine to 0 (default 0.1)"},
      {"--label-smoothing", "E", "cross-entropy label smoothing (default 0)"},
      {"--crop-padding", "P", "random crop with P pixels of zero padding (default 0: none)"},
      {"--hflip", "", "random horizontal flips"},
      {"--clip-grad", "X", "clip the gradient norm to X (default: no clipping)"},
      {"--init", "NAME",
       "initial weights: torchvision (default; xavier, zero head) or timm (trunc normal 0.02)"},
      {"--seed", "N", "seed of the initial weights, the data order and augmentations (default 0)"},
      {"--train-limit", "N", "train on the first N training images only"},
      {"--test-limit", "N", "test on the first N test images only"},
      {"--out", "DIR", "where the checkpoint, metrics.csv and curves.png go (created if missing)"},
      {"--resume", "", "continue the run in --out from its last checkpoint"},
      {"--export-test-images", "DIR",
       "write the first --test-limit (default 20) test images as PNG into DIR, and stop"}},
     run_options()});

const char* const kTrainHelp =
    "usage: vit train --data fashion-mnist --out DIR [--model vit_fmnist] [--epochs 10]\n"
    "                 [--batch 128] [--lr 3e-3] [options]\n"
    "\n"
    "Trains a Vision Transformer from scratch: AdamW with timm's no-decay groups, linear\n"
    "warm-up then cosine decay, cross-entropy, a test pass after each epoch. Same seed and\n"
    "same --threads give the same numbers bit for bit. Writes into DIR after every epoch:\n"
    "  model.safetensors      the weights (timm names) for vit classify / explain / info\n"
    "  optimizer.safetensors  the optimiser's state, for --resume\n"
    "  metrics.csv            one row per epoch: losses, accuracies, lr, images/s, seconds\n"
    "  curves.png             loss (left) and accuracy (right) per epoch; blue train, orange "
    "test\n"
    "A NaN or infinite loss stops training (exit 2), leaving the last good checkpoint.\n"
    "Ctrl-C finishes the step, saves a mid-epoch checkpoint and exits with status 130.\n"
    "\n";

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_sigint(int) {
    g_stop = 1;  // only this: the training loop sees it after the step
}

// SIGINT sets g_stop while training; the previous handler comes back afterwards.
struct StopOnSigint {
    struct sigaction previous {};
    StopOnSigint() {
        g_stop = 0;
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &previous);
    }
    ~StopOnSigint() { sigaction(SIGINT, &previous, nullptr); }
};

// The first n items of data (all when n is 0 or more than it has).
dataset::ImageDataset first(const dataset::ImageDataset& data, int64_t n) {
    if (n <= 0 || n >= data.size()) return data;
    dataset::ImageDataset out;
    out.height = data.height, out.width = data.width, out.num_classes = data.num_classes;
    out.pixels.assign(data.pixels.begin(), data.pixels.begin() + n * data.height * data.width);
    out.labels.assign(data.labels.begin(), data.labels.begin() + n);
    return out;
}

// --model with the size flags over it, for images (1, 28, 28) and 10 classes.
ViTConfig model_config(const Args& args, const dataset::ImageDataset& data, std::string* name) {
    const std::string preset = args.get("--model", "vit_fmnist");
    ViTConfig c;
    try {
        c = ViTConfig::preset(preset);
    } catch (const std::invalid_argument&) {
        std::string known;
        for (const auto& n : ViTConfig::preset_names()) known += (known.empty() ? "" : ", ") + n;
        throw UsageError(fmt::format("--model must be a preset ({}), got '{}'", known, preset));
    }
    const ViTConfig before = c;
    c.embed_dim = args.get_int("--dim", c.embed_dim, 1, 4096);
    c.depth = args.get_int("--depth", c.depth, 1, 128);
    c.num_heads = args.get_int("--heads", c.num_heads, 1, 4096);
    c.mlp_dim = args.get_int("--mlp", c.mlp_dim, 1, 16384);
    c.patch_size = args.get_int("--patch", c.patch_size, 1, data.height);
    c.img_size = data.height;
    c.in_chans = 1;
    c.num_classes = data.num_classes;
    if (c.embed_dim % c.num_heads != 0)
        throw UsageError(
            fmt::format("--heads {} must divide the width {} (--dim)", c.num_heads, c.embed_dim));
    if (c.img_size % c.patch_size != 0)
        throw UsageError(
            fmt::format("--patch {} must divide the image size {}", c.patch_size, c.img_size));
    const bool same = c.embed_dim == before.embed_dim && c.depth == before.depth &&
                      c.num_heads == before.num_heads && c.mlp_dim == before.mlp_dim &&
                      c.patch_size == before.patch_size && c.img_size == before.img_size &&
                      c.in_chans == before.in_chans;
    c.name = same ? preset : "custom";
    *name = c.name;
    c.validate();
    return c;
}

// "Ankle boot" -> "Ankle_boot", "T-shirt/top" -> "T-shirt_top": a file-name part.
std::string file_part(std::string s) {
    for (char& ch : s)
        if (ch == ' ' || ch == '/') ch = '_';
    return s;
}

int export_test_images(const Args& args, const dataset::ImageDataset& test, std::ostream& out) {
    const std::filesystem::path dir = args.required("--export-test-images");
    std::filesystem::create_directories(dir);
    const auto& names = dataset::fashion_mnist_classes();
    for (int64_t i = 0; i < test.size(); ++i) {
        Image im;
        im.width = static_cast<int>(test.width), im.height = static_cast<int>(test.height);
        im.channels = 1;
        const auto hw = static_cast<size_t>(test.height * test.width);
        im.pixels.assign(test.pixels.begin() + static_cast<std::ptrdiff_t>(i * hw),
                         test.pixels.begin() + static_cast<std::ptrdiff_t>((i + 1) * hw));
        const int64_t label = test.labels[static_cast<size_t>(i)];
        const std::string name =
            fmt::format("test_{:05d}_{}.png", i, file_part(names[static_cast<size_t>(label)]));
        write_png((dir / name).string(), im);
        out << fmt::format("{}  {} (class {})\n", (dir / name).string(),
                           names[static_cast<size_t>(label)], label);
    }
    return 0;
}

// An ostream whose every line goes to report() ("vit train: epoch 1/10 ..." on the command's
// stderr), so that the trainer's log goes where the command's messages go.
class ReportLines : public std::streambuf {
  public:
    explicit ReportLines(const Report& report) : report_(report) {}

  private:
    int overflow(int c) override {
        if (c == '\n') {
            report_(line_);
            line_.clear();
        } else if (c != traits_type::eof()) {
            line_ += static_cast<char>(c);
        }
        return c == traits_type::eof() ? 0 : c;
    }
    const Report& report_;
    std::string line_;
};

WeightInit parse_init(const std::string& name) {
    try {
        return parse_weight_init(name);
    } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("--init: {}", e.what()));
    }
}

double peak_rss_mb() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace

int train(const Args& args, std::ostream& out, const Report& report) {
    if (!args.positional().empty())
        throw UsageError(fmt::format("unexpected argument '{}'", args.positional()[0]));
    const std::string data_name = args.required("--data");
    if (data_name != "fashion-mnist")
        throw UsageError(fmt::format(
            "--data must be fashion-mnist (the dataset vitlab reads), got '{}'", data_name));
    // Every flag is checked before the dataset is read.
    train::TrainOptions o;
    o.epochs = args.get_int("--epochs", 10, 1, 100000);
    o.until_epoch = args.get_int("--until-epoch", 0, 1, o.epochs);
    o.batch_size = args.get_int("--batch", 128, 1, 65536);
    o.lr = args.get_double("--lr", 3e-3, 0.0, 10.0);
    if (!(o.lr > 0))
        throw UsageError(fmt::format("--lr must be above 0, got '{}'", args.get("--lr")));
    o.weight_decay = args.get_double("--weight-decay", 0.05, 0.0, 10.0);
    o.warmup = args.get_double("--warmup", 0.1, 0.0, 0.99);
    o.label_smoothing = static_cast<float>(args.get_double("--label-smoothing", 0.0, 0.0, 1.0));
    o.crop_padding = args.get_int("--crop-padding", 0, 0, 27);
    o.hflip = args.has("--hflip");
    o.clip_grad = args.get_double("--clip-grad", 0.0, 0.0, 1e6);
    o.seed = static_cast<uint64_t>(args.get_int("--seed", 0, 0, INT64_MAX / 2));
    const WeightInit init = parse_init(args.get("--init", "torchvision"));
    const int64_t train_limit = args.get_int("--train-limit", 0, 1, 60000);
    const int64_t test_limit = args.get_int("--test-limit", 0, 1, 10000);
    o.resume = args.has("--resume");
    const bool exporting = args.has("--export-test-images");
    if (!exporting) o.out_dir = args.required("--out");
    const std::string data_dir = args.get("--data-dir", dataset::fashion_mnist_dir());
    // The output folder first: a file in the way fails now, not after the first epoch.
    if (!o.out_dir.empty()) {
        std::error_code ec;
        if (std::filesystem::exists(o.out_dir, ec) && !std::filesystem::is_directory(o.out_dir, ec))
            throw UsageError(fmt::format("--out '{}' is not a directory", o.out_dir));
    }

    const dataset::ImageDataset test =
        first(dataset::load_fashion_mnist(dataset::Split::Test, data_dir),
              exporting && !args.has("--test-limit") ? 20 : test_limit);
    if (exporting) return export_test_images(args, test, out);
    const dataset::ImageDataset train =
        first(dataset::load_fashion_mnist(dataset::Split::Train, data_dir), train_limit);

    const ViTConfig config = model_config(args, train, &o.model_name);
    for (const char* name : dataset::fashion_mnist_classes()) o.class_names.push_back(name);
    o.progress = progress_enabled();

    VisionTransformer model(config, o.seed);
    init_weights_(model, init, o.seed);
    ReportLines lines(report);
    std::ostream log(&lines);
    const int64_t steps_per_epoch = (train.size() + o.batch_size - 1) / o.batch_size;
    log << fmt::format(
        "{} ({} parameters, {} init) on {} training and {} test images, {} thread{}; {} epoch{} "
        "of {} step{}, batch {}, AdamW lr {}, weight decay {}\n",
        to_string(config), model.num_parameters(), to_string(init), train.size(), test.size(),
        get_num_threads(), get_num_threads() == 1 ? "" : "s", o.epochs, o.epochs == 1 ? "" : "s",
        steps_per_epoch, steps_per_epoch == 1 ? "" : "s", o.batch_size, o.lr, o.weight_decay);

    StopOnSigint on_sigint;
    o.stop = &g_stop;
    const train::TrainResult result = train::fit(model, train, test, o, log);
    log << fmt::format("peak memory (RSS) {:.1f} MB\n", peak_rss_mb());
    if (!result.history.empty()) {
        const train::EpochMetrics& last = result.history.back();
        out << fmt::format("{}: epoch {}, test accuracy {:.4f}, test loss {:.4f}\n", o.out_dir,
                           last.epoch, last.test_acc, last.test_loss);
    }
    return result.interrupted ? 130 : 0;
}

}  // namespace vitlab::cli
