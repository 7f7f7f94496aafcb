// test_train.cpp: train/ (the training loop, its files, --resume) and `vit train` end to end,
// on a small generated dataset: class k is a texture over noise, a bright row (k < 7) or column
// repeated in every 7 x 7 patch, which a tiny ViT (patch 7, width 16, one block) learns in a
// few epochs. (A single bright square at patch k is much harder: while attention is uniform the
// class token sees the mean of the patches, the same for every class.) The file runs in
// seconds.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/vit_main.h"
#include "dataset/idx.h"
#include "dataset/loader.h"
#include "tensor/io/safetensors.h"
#include "tests/run_vit.h"
#include "tests/temp_files.h"
#include "train/curves.h"
#include "train/metrics.h"
#include "train/train_state.h"
#include "train/trainer.h"
#include "vision/image.h"
#include "vision/png_write.h"
#include "vision/transforms.h"
#include "vit/checkpoint.h"

using namespace vitlab;
using namespace vitlab::train;
using vitlab::testing::read_bytes;
using vitlab::testing::TempDir;

namespace {

// n images (28 x 28): noise in [0, 60], and for label k the texture of bright pixels
// (200..255).
dataset::ImageDataset squares(int64_t n, unsigned seed) {
    dataset::ImageDataset d;
    d.height = d.width = 28;
    d.num_classes = 10;
    std::mt19937 rng(seed);
    d.pixels.resize(static_cast<size_t>(n * 784));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t k = (i * 7 + i / 10) % 10;
        uint8_t* im = d.pixels.data() + i * 784;
        for (int64_t p = 0; p < 784; ++p) im[p] = static_cast<uint8_t>(rng() % 61);
        // A texture: in every 7 x 7 tile, row k bright (k < 7) or column 2(k - 7) + 1.
        for (int64_t y = 0; y < 28; ++y)
            for (int64_t x = 0; x < 28; ++x)
                if (k < 7 ? y % 7 == k : x % 7 == 2 * (k - 7) + 1)
                    im[y * 28 + x] = static_cast<uint8_t>(200 + rng() % 56);
        d.labels.push_back(k);
    }
    return d;
}

ViTConfig tiny() {
    ViTConfig c;
    c.name = "custom";
    c.img_size = 28, c.patch_size = 7, c.in_chans = 1, c.num_classes = 10;
    c.embed_dim = 16, c.depth = 1, c.num_heads = 2, c.mlp_dim = 32;
    return c;
}

TrainOptions tiny_options(const std::string& out_dir, int64_t epochs) {
    TrainOptions o;
    o.epochs = epochs;
    o.batch_size = 50;
    o.lr = 3e-3;
    o.seed = 7;
    o.out_dir = out_dir;
    o.class_names = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
    return o;
}

const dataset::ImageDataset& train_set() {
    static const dataset::ImageDataset d = squares(300, 1);
    return d;
}
const dataset::ImageDataset& test_set() {
    static const dataset::ImageDataset d = squares(100, 2);
    return d;
}

TrainResult run(const TrainOptions& o) {
    VisionTransformer model(tiny(), 3);
    std::ostringstream log;
    return fit(model, train_set(), test_set(), o, log);
}

// metrics.csv without its last two columns (images_per_s, seconds: timing).
std::string metrics_without_timing(const std::string& dir) {
    std::vector<EpochMetrics> rows = parse_metrics_csv(read_bytes(dir + "/metrics.csv"));
    for (EpochMetrics& m : rows) m.images_per_s = m.seconds = 0;
    return metrics_csv(rows);
}

}  // namespace

TEST_CASE("fit: writes a checkpoint that loads as a ViT with its metadata, metrics and curves") {
    TempDir tmp;
    const std::string dir = tmp.path("run");
    const TrainResult r = run(tiny_options(dir, 2));
    CHECK(r.history.size() == 2);
    CHECK(r.global_step == 12);  // 300 images in batches of 50, two epochs
    CHECK_FALSE(r.interrupted);
    for (const char* f :
         {"model.safetensors", "optimizer.safetensors", "metrics.csv", "curves.png"})
        CHECK(std::filesystem::is_regular_file(dir + "/" + f));

    const Checkpoint ck = load_checkpoint(dir + "/model.safetensors");
    CHECK(ck.naming == Naming::Timm);
    CHECK(ck.config.in_chans == 1);
    CHECK(ck.config.img_size == 28);
    CHECK(ck.config.patch_size == 7);
    CHECK(ck.config.num_heads == 2);  // invisible in the shapes: from the metadata
    CHECK(ck.heads_source == "the checkpoint's metadata");
    CHECK(ck.tensors.count("blocks.0.attn.qkv.weight"));
    CHECK(ck.metadata.at("class_names") ==
          R"(["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"])");
    CHECK(ck.metadata.at("epoch") == "2");
    CHECK(ck.metadata.at("mid_epoch") == "false");

    const std::string csv = read_bytes(dir + "/metrics.csv");
    CHECK(csv.rfind("epoch,train_loss,train_acc,test_loss,test_acc,lr,images_per_s,seconds\n", 0) ==
          0);
    const std::vector<EpochMetrics> rows = parse_metrics_csv(csv);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].epoch == 1);
    CHECK(rows[1].epoch == 2);
    CHECK(rows[1].test_loss == r.history[1].test_loss);  // 17 digits: read back exactly
    CHECK(rows[1].lr == 0.0);                            // cosine ends at 0
    for (const EpochMetrics& m : rows) {
        CHECK((m.test_acc >= 0 && m.test_acc <= 1));
        CHECK(m.images_per_s > 0);
    }
    const Image curves = read_image(dir + "/curves.png");
    CHECK(curves.width == 640);
    CHECK(curves.height == 240);
}

TEST_CASE("fit: the loss falls and the accuracy rises on an easy task") {
    TrainOptions o = tiny_options("", 4);
    const TrainResult r = run(o);
    REQUIRE(r.history.size() == 4);
    CHECK(r.history.back().train_loss < r.history.front().train_loss - 0.3);
    CHECK(r.history.front().train_acc < 0.8);
    CHECK(r.history.back().test_acc > 0.9);  // chance is 0.1
}

TEST_CASE("fit: the same seed gives the same weights and metrics, bit for bit") {
    TempDir tmp;
    TrainOptions o = tiny_options(tmp.path("a"), 2);
    o.crop_padding = 2;  // the augmentations are seeded too
    o.hflip = true;
    run(o);
    o.out_dir = tmp.path("b");
    run(o);
    CHECK(read_bytes(tmp.path("a/model.safetensors")) ==
          read_bytes(tmp.path("b/model.safetensors")));
    CHECK(metrics_without_timing(tmp.path("a")) == metrics_without_timing(tmp.path("b")));
    o.seed = 8;
    o.out_dir = tmp.path("c");
    run(o);
    CHECK(read_bytes(tmp.path("a/model.safetensors")) !=
          read_bytes(tmp.path("c/model.safetensors")));
}

TEST_CASE("fit: one epoch and a resumed one give the weights of two epochs in one run") {
    TempDir tmp;
    TrainOptions o = tiny_options(tmp.path("whole"), 2);
    o.crop_padding = 2;
    o.hflip = true;
    run(o);
    // The same run of 2 epochs, stopped after the first (the schedule still spans both).
    o.out_dir = tmp.path("split");
    o.until_epoch = 1;
    CHECK(run(o).history.size() == 1);
    CHECK(load_safetensors_metadata(tmp.path("split/model.safetensors")).at("epoch") == "1");
    o.until_epoch = 0;
    o.resume = true;
    const TrainResult r = run(o);
    CHECK(r.history.size() == 2);
    CHECK(read_bytes(tmp.path("whole/model.safetensors")) ==
          read_bytes(tmp.path("split/model.safetensors")));
    CHECK(metrics_without_timing(tmp.path("whole")) == metrics_without_timing(tmp.path("split")));
    // Nothing left to do: a third run trains nothing and changes nothing.
    const std::string before = read_bytes(tmp.path("split/model.safetensors"));
    CHECK(run(o).history.size() == 2);
    CHECK(read_bytes(tmp.path("split/model.safetensors")) == before);
}

TEST_CASE("fit: a stop request saves a mid-epoch checkpoint that resumes exactly") {
    TempDir tmp;
    TrainOptions o = tiny_options(tmp.path("whole"), 2);
    o.crop_padding = 2;
    run(o);
    // Stop requested before the first step: the run stops after it, in the middle of epoch 1.
    volatile std::sig_atomic_t stop = 1;
    o.out_dir = tmp.path("split");
    o.stop = &stop;
    const TrainResult first = run(o);
    CHECK(first.interrupted);
    CHECK(first.global_step == 1);
    CHECK(first.history.empty());
    const auto meta = load_safetensors_metadata(tmp.path("split/model.safetensors"));
    CHECK(meta.at("mid_epoch") == "true");
    CHECK(meta.at("step") == "1");
    // And again in epoch 2 after resuming, then to the end.
    o.resume = true;
    stop = 0;
    o.until_epoch = 1;
    run(o);
    o.until_epoch = 0;
    stop = 1;
    CHECK(run(o).global_step == 7);
    stop = 0;
    const TrainResult last = run(o);
    CHECK_FALSE(last.interrupted);
    CHECK(last.global_step == 12);
    CHECK(read_bytes(tmp.path("whole/model.safetensors")) ==
          read_bytes(tmp.path("split/model.safetensors")));
    CHECK(metrics_without_timing(tmp.path("whole")) == metrics_without_timing(tmp.path("split")));
}

TEST_CASE("fit: a NaN loss stops training naming the step and keeps the last good checkpoint") {
    TempDir tmp;
    TrainOptions o = tiny_options(tmp.path("run"), 2);
    o.until_epoch = 1;
    run(o);
    const std::string good = read_bytes(tmp.path("run/model.safetensors"));
    const std::string good_opt = read_bytes(tmp.path("run/optimizer.safetensors"));
    // A normalisation std of 1e-45 (a float denormal) scales every pixel by infinity: the
    // loss of the next step (epoch 2, step 1) is NaN.
    o.until_epoch = 0;
    o.resume = true;
    o.std = 1e-45f;
    try {
        run(o);
        FAIL("no NonFiniteLoss");
    } catch (const NonFiniteLoss& e) {
        CHECK(e.epoch == 2);
        CHECK(e.step == 1);
        CHECK(std::string(e.what()).find("epoch 2, step 1 of 6 (step 7 of the run)") == 0);
        CHECK(std::string(e.what()).find("the last good checkpoint stays in") != std::string::npos);
    }
    CHECK(read_bytes(tmp.path("run/model.safetensors")) == good);
    CHECK(read_bytes(tmp.path("run/optimizer.safetensors")) == good_opt);

    // A model with a NaN weight stops at its first step, and nothing is written.
    VisionTransformer model(tiny(), 3);
    model.parameter("head.bias").data()[3] = NAN;
    TrainOptions plain = tiny_options(tmp.path("bad"), 1);
    std::ostringstream log;
    CHECK_THROWS(fit(model, train_set(), test_set(), plain, log));
    CHECK_FALSE(std::filesystem::exists(tmp.path("bad/model.safetensors")));
}

TEST_CASE("fit: --resume refuses another batch size and a missing run; bad options throw") {
    TempDir tmp;
    TrainOptions o = tiny_options(tmp.path("run"), 1);
    o.resume = true;
    CHECK_THROWS_WITH_AS(run(o), doctest::Contains("no "), std::runtime_error);
    o.resume = false;
    run(o);
    o.resume = true;
    o.batch_size = 60;
    CHECK_THROWS_WITH_AS(run(o), doctest::Contains("used --batch 50, this one 60"),
                         std::runtime_error);
    const auto bad = [&](auto change, const char* what) {
        TrainOptions b = tiny_options("", 1);
        change(b);
        CHECK_THROWS_WITH_AS(validate(b), doctest::Contains(what), std::invalid_argument);
    };
    bad([](TrainOptions& b) { b.epochs = 0; }, "epochs = 0");
    bad([](TrainOptions& b) { b.lr = 0; }, "lr = 0");
    bad([](TrainOptions& b) { b.warmup = 1; }, "warmup = 1");
    bad([](TrainOptions& b) { b.label_smoothing = 2; }, "label_smoothing = 2");
    bad([](TrainOptions& b) { b.until_epoch = 2; }, "until_epoch = 2");
}

// ---- vit train, end to end -----------------------------------------------------------------

namespace {

using Run = testing::VitRun;
const auto vit = testing::run_vit;

// The generated sets as Fashion-MNIST's four files (gzip) in dir.
void write_dataset(const std::string& dir) {
    const auto write = [&](const std::string& prefix, const dataset::ImageDataset& d) {
        std::vector<uint8_t> labels;
        for (int64_t l : d.labels) labels.push_back(static_cast<uint8_t>(l));
        dataset::write_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", {d.size(), 28, 28},
                           d.pixels);
        dataset::write_idx(dir + "/" + prefix + "-labels-idx1-ubyte.gz", {d.size()}, labels);
    };
    write("train", train_set());
    write("t10k", test_set());
}

}  // namespace

TEST_CASE("vit train: trains, then classify names the classes and explain draws the model") {
    TempDir tmp;
    write_dataset(tmp.dir.string());
    const std::string out = tmp.path("run");
    const std::vector<std::string> size = {"--dim", "16",    "--depth", "1",       "--heads",
                                           "2",     "--mlp", "32",      "--patch", "7"};
    std::vector<std::string> args = {
        "train",   "--data", "fashion-mnist", "--data-dir", tmp.dir.string(), "--epochs", "3",
        "--batch", "50",     "--out",         out,          "--threads",      "1"};
    args.insert(args.end(), size.begin(), size.end());
    const Run r = vit(args);
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("vit train: epoch 3/3  train loss") != std::string::npos);
    CHECK(r.err.find("vit train: peak memory (RSS)") != std::string::npos);
    CHECK(r.out.find(out + ": epoch 3, test accuracy") == 0);
    CHECK(parse_metrics_csv(read_bytes(out + "/metrics.csv")).size() == 3);

    // The first 4 test images as PNG files named by their class.
    const Run exported = vit({"train", "--data", "fashion-mnist", "--data-dir", tmp.dir.string(),
                              "--export-test-images", tmp.path("images"), "--test-limit", "4"});
    REQUIRE(exported.code == 0);
    const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                            "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};
    const int64_t label0 = test_set().labels[0];
    const std::string png0 = tmp.path(fmt::format(
        "images/test_00000_{}.png", label0 == 0 ? "T-shirt_top" : names[size_t(label0)]));
    REQUIRE(std::filesystem::is_regular_file(png0));
    const Image im = read_image(png0);
    CHECK(im.channels == 1);
    CHECK(std::vector<uint8_t>(im.pixels) ==
          std::vector<uint8_t>(test_set().pixels.begin(), test_set().pixels.begin() + 784));

    // classify: the gray image normalised with the checkpoint's mean and std, the class names
    // from its metadata; the same answer as the model run by hand.
    const Run c = vit({"classify", "--weights", out + "/model.safetensors", png0, "--topk", "1"});
    CAPTURE(c.err);
    REQUIRE(c.code == 0);
    const Checkpoint ck = load_checkpoint(out + "/model.safetensors");
    const auto model = make_vit(ck);
    Tensor x(Shape{1, 1, 28, 28});
    for (int64_t i = 0; i < 784; ++i)
        x.data()[i] = (test_set().pixels[size_t(i)] / 255.0f - dataset::kFashionMnistMean) /
                      dataset::kFashionMnistStd;
    const Tensor logits = (*model)(x);
    int64_t best = 0;
    for (int64_t k = 1; k < 10; ++k)
        if (logits.at({0, k}) > logits.at({0, best})) best = k;
    CHECK(c.out.find(fmt::format("{}  (class {}, logit {:.4f})", names[size_t(best)], best,
                                 logits.at({0, best}))) != std::string::npos);
    CHECK(c.out.find("mean (0.286), std (0.353)") != std::string::npos);

    const Run e = vit(
        {"explain", "--weights", out + "/model.safetensors", png0, "--out", tmp.path("pictures")});
    CAPTURE(e.err);
    CHECK(e.code == 0);
    CHECK(read_image(tmp.path("pictures/attention_rollout.png")).width > 0);
    CHECK(read_image(tmp.path("pictures/position_embedding_similarity.png")).width > 0);

    const Run i = vit({"info", "--weights", out + "/model.safetensors"});
    CHECK(i.code == 0);
    CHECK(i.out.find("28 x 28, 1 channels, patches 7 x 7") != std::string::npos);
    CHECK(i.out.find("heads 2 of 8 dims (the checkpoint's metadata)") != std::string::npos);

    // Metadata that cannot be used is an error naming the entry.
    const auto with_metadata = [&](const std::string& key, const std::string& value) {
        SafetensorsHeader header;
        const TensorMap tensors = load_safetensors(out + "/model.safetensors", &header);
        header.metadata[key] = value;
        save_safetensors(tmp.path("edited.safetensors"), tensors, header.metadata);
        return vit({"classify", "--weights", tmp.path("edited.safetensors"), png0});
    };
    Run bad = with_metadata("class_names", R"(["a", "b", "c"])");
    CHECK(bad.code == 2);
    CHECK(bad.err.find("metadata 'class_names' holds 3 names for 10 classes") != std::string::npos);
    bad = with_metadata("class_names", R"(["a\nb", "b", "c", "d", "e", "f", "g", "h", "i", "j"])");
    CHECK(bad.err.find("a non-empty string on one line") != std::string::npos);
    bad = with_metadata("num_heads", "3");
    CHECK(bad.err.find("3 heads do not divide the width 16") != std::string::npos);
    bad = with_metadata("mean", "0.5,0.5");
    CHECK(bad.err.find("metadata 'mean' is '0.5,0.5', expected 1 comma-separated numbers") !=
          std::string::npos);

    // --resume with nothing left to train changes nothing and succeeds.
    const std::string before = read_bytes(out + "/model.safetensors");
    args.push_back("--resume");
    CHECK(vit(args).code == 0);
    CHECK(read_bytes(out + "/model.safetensors") == before);
}

// (vision/, for classify and explain of a gray model; here beside the model that needs it.)
TEST_CASE("preprocess with one channel: gray images as they are, colour by PIL's luminance") {
    Image rgb;
    rgb.width = 4, rgb.height = 1, rgb.channels = 3;
    rgb.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    // PIL: Image.new("RGB", ...).convert("L") gives 76 for red, 150 green, 29 blue, 255 white.
    const Tensor g = to_gray_tensor(rgb);
    CHECK(g.shape() == Shape{1, 1, 4});
    const std::vector<float> want = {76 / 255.0f, 150 / 255.0f, 29 / 255.0f, 1.0f};
    CHECK(g.to_vector() == want);

    Image gray;
    gray.width = 2, gray.height = 2, gray.channels = 1;
    gray.pixels = {0, 51, 102, 255};
    PreprocessConfig p;
    p.input_size = 2;
    p.channels = 1;
    p.mean = {0.2f};
    p.stddev = {0.5f};
    const Tensor x = preprocess(gray, p);
    CHECK(x.shape() == Shape{1, 1, 2, 2});
    CHECK(x.at({0, 0, 1, 0}) == doctest::Approx((102 / 255.0f - 0.2f) / 0.5f));
    p.mean = {0.2f, 0.2f, 0.2f};
    CHECK_THROWS_WITH_AS(preprocess(gray, p),
                         doctest::Contains("mean and std need 1 values (gray), got 3 and 1"),
                         ShapeError);
}
