// test_cli.cpp: the `vit` command (cli/vit_main.h), run in-process through vit_main().
//
// What a user sees: --help, exit status 0 or 2, one line on stderr naming the file and the
// problem, `info` output, `run` logits equal to PyTorch's, `classify` equal to the model run by
// hand, and no crash on broken or hostile files (including every input the fuzzers ever
// crashed on, kept in fuzz/regressions/).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/vit_main.h"
#include "tensor/io/json.h"
#include "tensor/parallel/thread_pool.h"
#include "tests/checkpoint_tests.h"
#include "tests/run_vit.h"
#include "vision/image.h"
#include "vision/ppm.h"
#include "vision/transforms.h"

namespace {

using Result = testing::VitRun;
const auto vit = testing::run_vit;

size_t lines(const std::string& s) {
    return size_t(std::count(s.begin(), s.end(), '\n'));
}

// Exit status 2 and exactly one line on stderr that contains `what`.
void check_fails(const Result& r, const std::string& what) {
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(what) != std::string::npos);
}

// A w x h RGB image of random bytes, saved as P6.
std::string random_ppm(const TempDir& tmp, const std::string& name, int w, int h, unsigned seed) {
    Image image;
    image.width = w;
    image.height = h;
    image.channels = 3;
    std::mt19937 rng(seed);
    for (int i = 0; i < w * h * 3; ++i) image.pixels.push_back(uint8_t(rng() & 0xFF));
    const std::string p = tmp.path(name);
    write_ppm(p, image);
    return p;
}

std::string labels_file(const TempDir& tmp) {
    std::string text;
    for (int i = 0; i < 10; ++i) text += "thing " + std::to_string(i) + "\n";
    const std::string p = tmp.path("labels.txt");
    write_bytes(p, text);
    return p;
}

}  // namespace

// ---- usage -------------------------------------------------------------------------------------

TEST_CASE("vit: --help on the command and on each subcommand prints usage and exits 0") {
    Result r = vit({"--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: vit <command>") != std::string::npos);
    CHECK(vit({"train", "--help"}).out.find("usage: vit train --data fashion-mnist") !=
          std::string::npos);
    for (const char* command : {"info", "classify", "run"}) {
        CAPTURE(command);
        r = vit({command, "--help"});
        CHECK(r.code == 0);
        CHECK(r.out.find(std::string("usage: vit ") + command) != std::string::npos);
        CHECK(r.out.find("--weights W") != std::string::npos);
        CHECK(r.err.empty());
    }
    CHECK(vit({"classify", "-h"}).out.find("--topk K") != std::string::npos);
}

TEST_CASE("vit: bad usage exits 2 with one line saying what is wrong") {
    Result r = vit({});
    CHECK(r.code == 2);
    CHECK(r.err.find("usage: vit") != std::string::npos);
    check_fails(vit({"clasify"}), "vit: unknown command 'clasify'");
    check_fails(vit({"info"}), "vit info: --weights is required (see 'vit info --help')");
    check_fails(vit({"info", "--weights"}), "--weights needs a value");
    check_fails(vit({"info", "--wieghts", kTimm}), "unknown option '--wieghts'");
    check_fails(vit({"info", "--weights", kTimm, "--weights", kTimm}), "--weights is given twice");
    check_fails(vit({"classify", "--weights", kTimm, "--heads", "4"}), "no IMAGE given");
    check_fails(vit({"classify", "--weights", kTimm, "--heads", "4", "--topk", "0", "x.ppm"}),
                "--topk must be an integer from 1 to");
    check_fails(vit({"classify", "--weights", kTimm, "--threads", "-1", "x.ppm"}),
                "--threads must be an integer from 1 to 1024, got '-1'");
    check_fails(vit({"classify", "--weights", kTimm, "--threads=0", "x.ppm"}),
                "--threads must be an integer from 1 to 1024, got '0'");
    check_fails(
        vit({"run", "--weights", kTimm, "--kernels", "fast", "--input", "a", "--output", "b"}),
        "--kernels must be naive or blocked, got 'fast'");
    check_fails(vit({"classify", "--weights", kTimm, "--mean", "0.5,0.5", "x.ppm"}),
                "--mean needs 3 values (or one for all), got 2");
    check_fails(vit({"classify", "--weights", kTimm, "--std", "0.5,0,0.5", "x.ppm"}),
                "--std: '0' is not a positive number");
    check_fails(vit({"info", "--weights", kTimm, "--model", "vit_gigantic"}),
                "unknown model 'vit_gigantic'");
    check_fails(vit({"info", "--weights", kTimm, "--json"}), "unknown option '--json'");
}

TEST_CASE("vit train: bad flags exit 2 naming the flag and what it expects") {
    const std::vector<std::string> base = {"train", "--data", "fashion-mnist", "--out",
                                           "/nonexistent/run"};
    const auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return vit(args);
    };
    check_fails(vit({"train", "--out", "x"}), "vit train: --data is required");
    check_fails(vit({"train", "--data", "mnist", "--out", "x"}),
                "--data must be fashion-mnist (the dataset vitlab reads), got 'mnist'");
    check_fails(vit({"train", "--data", "fashion-mnist"}), "--out is required");
    check_fails(with({"--epochs", "0"}), "--epochs must be an integer from 1 to 100000, got '0'");
    check_fails(with({"--batch", "x"}), "--batch must be an integer from 1 to 65536, got 'x'");
    check_fails(with({"--lr", "fast"}), "--lr must be a number from 0 to 10, got 'fast'");
    check_fails(with({"--lr", "0"}), "--lr must be above 0, got '0'");
    check_fails(with({"--lr", "nan"}), "--lr must be a number");
    check_fails(with({"--init", "xavier"}),
                "--init: unknown weight initialisation 'xavier': expected timm or torchvision");
    check_fails(with({"--warmup", "1"}), "--warmup must be a number from 0 to 0.99, got '1'");
    check_fails(with({"--weight-decay", "-1"}), "--weight-decay must be a number from 0 to 10");
    check_fails(with({"--label-smoothing", "2"}), "--label-smoothing must be a number from 0 to 1");
    check_fails(with({"--crop-padding", "-2"}), "--crop-padding must be an integer from 0 to 27");
    check_fails(with({"--epochs", "2", "--until-epoch", "3"}),
                "--until-epoch must be an integer from 1 to 2, got '3'");
    check_fails(with({"--hflip=yes"}), "--hflip");
    check_fails(with({"--epoch", "2"}), "unknown option '--epoch'");
    check_fails(with({"extra"}), "unexpected argument 'extra'");
    // The dataset is looked for only after every flag is checked; a missing one says how to
    // install it.
    check_fails(with({"--data-dir", "/nonexistent/fmnist"}),
                "apt-get install dataset-fashion-mnist");
}

TEST_CASE("vit: --kernels and --threads apply to one call and are restored after it") {
    const Kernel kernel = default_kernel();
    const int threads = get_num_threads();
    TempDir tmp;
    const Result r = vit({"run", "--weights", kTimm, "--heads", "4", "--kernels", "naive",
                          "--threads", "1", "--input", fixture_path("checkpoint_io.safetensors"),
                          "--input-key", "input", "--output", tmp.path("y.safetensors")});
    CHECK(r.code == 0);
    CHECK(default_kernel() == kernel);
    CHECK(get_num_threads() == threads);
    const auto f = fixture("checkpoint_io");
    check_close(load_safetensors(tmp.path("y.safetensors")).at("logits"), f["logits_timm"], 1e-4f,
                1e-4f);
}

// ---- info --------------------------------------------------------------------------------------

TEST_CASE("vit info: naming, inferred config, parameter count and every tensor") {
    Result r = vit({"info", "--weights", kTimm, "--heads", "4"});
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    CHECK(r.out.find("naming      timm\n") != std::string::npos);
    CHECK(r.out.find("image       32 x 32, 3 channels, patches 8 x 8: a 4 x 4 grid, 17 tokens") !=
          std::string::npos);
    CHECK(r.out.find("width 32, depth 2, heads 4 of 8 dims (--heads), mlp 64") !=
          std::string::npos);
    CHECK(r.out.find("classes     10\n") != std::string::npos);
    CHECK(r.out.find("parameters  24,234 ") != std::string::npos);
    CHECK(r.out.find("tensors     32 (32 F32)") != std::string::npos);
    CHECK(r.out.find("blocks.1.attn.qkv.weight   F32   (96, 32)") != std::string::npos);

    r = vit({"info", "--weights", kHF, "--heads", "4"});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("naming      Hugging Face transformers\n") != std::string::npos);
    CHECK(r.out.find("tensors     40 (40 F32)") != std::string::npos);
    CHECK(r.out.find("vit.encoder.layer.0.attention.attention.value.weight  F32   (32, 32)  -> "
                     "blocks.0.attn.qkv.weight[64:96]") != std::string::npos);
    CHECK(r.out.find("mean (0.5, 0.5, 0.5)") != std::string::npos);  // Google's ViT
    r = vit({"info", "--weights", fixture_path("checkpoint_timm_f16.safetensors"), "--heads", "4",
             "--mean", "0.1", "--std=0.2,0.3,0.4"});
    CHECK(r.out.find("tensors     32 (32 F16)") != std::string::npos);
    CHECK(r.out.find("mean (0.1, 0.1, 0.1), std (0.2, 0.3, 0.4) (--mean/--std)") !=
          std::string::npos);
}

// ---- run ---------------------------------------------------------------------------------------

TEST_CASE("vit run: the logits of both namings match PyTorch") {
    TempDir tmp;
    const auto f = fixture("checkpoint_io");
    const std::string x = tmp.path("x.safetensors");
    save_safetensors(x, {{"images", f["input"]}});  // its only tensor: no --input-key needed
    for (const auto& [path, expected] :
         {std::pair{kTimm, "logits_timm"}, std::pair{kHF, "logits_hf"}}) {
        const std::string weights = path;
        CAPTURE(weights);
        const std::string y = tmp.path("y.safetensors");
        const Result r =
            vit({"run", "--weights", weights, "--heads", "4", "--input", x, "--output", y});
        CHECK(r.code == 0);
        CHECK(r.out == y + ": logits (2, 10)\n");
        const TensorMap out = load_safetensors(y);
        CHECK(out.size() == 1);
        check_close(out.at("logits"), f[expected], 1e-4f, 1e-4f);
    }
}

TEST_CASE("vit run: a bad input file or tensor exits 2 naming the file and the problem") {
    TempDir tmp;
    const std::string x = tmp.path("x.safetensors"), y = tmp.path("y.safetensors");
    const auto run = [&] {
        return vit({"run", "--weights", kTimm, "--heads", "4", "--input", x, "--output", y});
    };
    save_safetensors(x, {{"input", zeros({1, 3, 24, 24})}});
    check_fails(run(),
                "x.safetensors: tensor 'input' has shape (1, 3, 24, 24), expected (B, 3, "
                "32, 32) with B >= 1");
    save_safetensors(x, {{"input", zeros({0, 3, 32, 32})}});
    check_fails(run(), "has shape (0, 3, 32, 32)");
    save_safetensors(x, {{"a", zeros({1})}, {"b", zeros({1})}});
    check_fails(run(), "x.safetensors: has no tensor 'input' (it has 'a', 'b')");
    write_bytes(x, "not a safetensors file");
    check_fails(run(), "x.safetensors");
    check_fails(vit({"run", "--weights", kTimm, "--heads", "4", "--input", tmp.path("none"),
                     "--output", y}),
                "none': cannot open");
    CHECK_FALSE(fs::exists(y));
}

// ---- classify ----------------------------------------------------------------------------------

TEST_CASE(
    "vit classify --json: the top-k of the model run by hand, with labels and probabilities") {
    TempDir tmp;
    const std::string a = random_ppm(tmp, "a.ppm", 45, 37, 1);  // resized and cropped
    const std::string b = random_ppm(tmp, "b.ppm", 32, 32, 2);  // already the model's size
    for (const bool hf : {false, true}) {
        CAPTURE(hf);
        const std::string weights = hf ? kHF : kTimm;
        const Result r = vit({"classify", "--weights", weights, "--heads", "4", "--labels",
                              labels_file(tmp), "--topk", "3", "--json", a, b});
        REQUIRE(r.code == 0);
        CHECK(r.err.empty());
        REQUIRE(lines(r.out) == 2);

        // By hand: timm's preprocessing (mean/std 0.5 for Hugging Face), model, softmax.
        const auto model = make_vit(load_checkpoint(weights, [] {
            CheckpointOptions o;
            o.num_heads = 4;
            return o;
        }()));
        std::istringstream out(r.out);
        for (const std::string& image : {a, b}) {
            std::string line;
            std::getline(out, line);
            const json::Value v = json::parse(line);
            CHECK(v.find("image")->as_string() == image);
            const auto& top = v.find("topk")->as_array();
            REQUIRE(top.size() == 3);

            const Tensor logits =
                (*model)(preprocess(read_image(image), vit_preprocess_config(32, hf)));
            const Tensor probs = softmax(logits, -1);
            const TopK expected = topk(probs, 3, -1);
            for (int64_t i = 0; i < 3; ++i) {
                const int64_t index = expected.indices.at({0, i});
                CHECK(top[i].find("index")->as_int64() == index);
                CHECK(top[i].find("label")->as_string() == "thing " + std::to_string(index));
                CHECK(top[i].find("prob")->as_double() ==
                      doctest::Approx(probs.at({0, index})).epsilon(1e-6));
                CHECK(top[i].find("logit")->as_double() ==
                      doctest::Approx(logits.at({0, index})).epsilon(1e-6));
            }
        }
    }
}

TEST_CASE("vit classify: text output, and --mean/--std change the answer") {
    TempDir tmp;
    const std::string a = random_ppm(tmp, "a.ppm", 40, 40, 3);
    const Result r = vit({"classify", "--weights", kTimm, "--heads", "4", a});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("custom (timm, 32 x 32, mean (0.485, 0.456, 0.406)") == 0);
    CHECK(r.out.find(a + "\n") != std::string::npos);
    CHECK(lines(r.out) == 1 + 1 + 5);  // the model line, the image, 5 classes
    CHECK(r.out.find("(class ") != std::string::npos);
    const Result other = vit({"classify", "--weights", kTimm, "--heads", "4", "--topk", "10",
                              "--mean", "0.2", "--std", "2", a});
    REQUIRE(other.code == 0);
    CHECK(lines(other.out) == 1 + 1 + 10);
    CHECK(other.out != r.out);
}

TEST_CASE("vit classify: a bad image is reported on one line, the others are still classified") {
    TempDir tmp;
    const std::string good = random_ppm(tmp, "good.ppm", 32, 32, 4);
    const std::string bad = tmp.path("bad.ppm");
    write_bytes(bad, "P6\n32 32\n255\nshort");
    const Result r = vit({"classify", "--weights", kTimm, "--heads", "4", "--json", bad, good,
                          tmp.path("missing.png")});
    CHECK(r.code == 2);
    CHECK(lines(r.out) == 1);
    CHECK(r.out.find("good.ppm") != std::string::npos);
    CHECK(lines(r.err) == 2);
    CHECK(r.err.find("vit classify: " + bad) == 0);
    CHECK(r.err.find("missing.png: cannot open") != std::string::npos);
}

// ---- broken weights ----------------------------------------------------------------------------

TEST_CASE("vit: missing, truncated and corrupt weights exit 2 with one line naming the file") {
    TempDir tmp;
    const std::string image = random_ppm(tmp, "a.ppm", 32, 32, 5);
    check_fails(vit({"info", "--weights", tmp.path("none.safetensors")}),
                "none.safetensors': cannot open");
    check_fails(vit({"info", "--weights", tmp.dir.string()}), "is a directory");
    const std::string original = read_bytes(kTimm);
    const std::string w = tmp.path("w.safetensors");
    for (size_t n :
         {size_t(0), size_t(5), size_t(8), size_t(100), original.size() / 2, original.size() - 1}) {
        CAPTURE(n);
        write_bytes(w, original.substr(0, n));
        check_fails(vit({"classify", "--weights", w, "--heads", "4", image}), "w.safetensors");
    }
    // A checkpoint that does not fit: the tensor, its shape and the expected shape.
    TensorMap t = load_safetensors(kTimm);
    t["head.bias"] = zeros({11});
    save_safetensors(w, t);
    check_fails(vit({"run", "--weights", w, "--heads", "4", "--input", "x", "--output", "y"}),
                "checkpoint '" + w + "': tensor 'head.bias' has shape (11,), expected (10,)");
    // A message from a hostile file cannot break the one-line rule.
    t = load_safetensors(kTimm);
    t["evil\nname"] = zeros({1});
    save_safetensors(w, t);
    check_fails(vit({"info", "--weights", w, "--heads", "4"}), "unexpected tensor 'evil name'");
}

TEST_CASE("vit: every input the fuzzers crashed on is now an error or a result, never a crash") {
    const fs::path dir = fs::path(VITLAB_SOURCE_DIR) / "fuzz" / "regressions";
    if (!fs::exists(dir)) return;
    TempDir tmp;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string p = entry.path().string();
        CAPTURE(p);
        const bool weights = entry.path().parent_path().filename() == "safetensors";
        const Result r = weights
                             ? vit({"info", "--weights", p})
                             : vit({"classify", "--weights", kTimm, "--heads", "4", "--json", p});
        CHECK((r.code == 0 || r.code == 2));
        CHECK(lines(r.err) <= 1);
    }
}

// ---- hostile environments, outputs and numbers -------------------------------------------------

namespace {

// An environment variable set for one scope, and the thread count forgotten so that the next
// get_num_threads() reads it; both are put back afterwards.
struct ThreadsEnv {
    std::optional<std::string> saved;
    int chosen = chosen_num_threads();
    explicit ThreadsEnv(const std::string& value) {
        if (const char* v = std::getenv("VITLAB_THREADS")) saved = v;
        ::setenv("VITLAB_THREADS", value.c_str(), 1);
        reset_num_threads();
    }
    ~ThreadsEnv() {
        if (saved)
            ::setenv("VITLAB_THREADS", saved->c_str(), 1);
        else
            ::unsetenv("VITLAB_THREADS");
        if (chosen > 0)
            set_num_threads(chosen);
        else
            reset_num_threads();
    }
};

// A stream whose every write fails, like stdout on /dev/full or a closed pipe.
struct FailingBuffer : std::streambuf {
    int overflow(int) override { return traits_type::eof(); }
    std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
};

Result vit_to(std::ostream& out, std::vector<std::string> args) {
    args.insert(args.begin(), "vit");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream err;
    const int code = cli::vit_main(int(argv.size()), argv.data(), out, err);
    return {code, "", err.str()};
}

// The timm fixture with one tensor changed.
std::string changed_checkpoint(const TempDir& tmp, const std::string& name,
                               const std::function<void(Tensor&)>& change) {
    TensorMap t = load_safetensors(kTimm);
    Tensor copy = t.at(name).contiguous().clone();
    change(copy);
    t[name] = copy;
    const std::string p = tmp.path("changed.safetensors");
    save_safetensors(p, t);
    return p;
}

}  // namespace

TEST_CASE("vit: a bad VITLAB_THREADS exits 2 naming the variable and the range; --threads wins") {
    TempDir tmp;
    const std::string image = random_ppm(tmp, "a.ppm", 32, 32, 6);
    for (const std::string value :
         {"", "abc", "0", "5000", "-3", "4x", " 3", "+3", "99999999999999999999"}) {
        CAPTURE(value);
        ThreadsEnv env(value);
        check_fails(
            vit({"info", "--weights", kTimm, "--heads", "4"}),
            "vit info: VITLAB_THREADS must be a whole number from 1 to 1024, got '" + value + "'");
        check_fails(vit({"classify", "--weights", kTimm, "--heads", "4", image}),
                    "VITLAB_THREADS must be");
        const Result r =
            vit({"classify", "--weights", kTimm, "--heads", "4", "--threads", "2", image});
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        CHECK(chosen_num_threads() == 0);  // vit_main put the setting back as it found it
    }
    ThreadsEnv good("3");
    CHECK(vit({"info", "--weights", kTimm, "--heads", "4"}).code == 0);
}

TEST_CASE("vit: output that cannot be written is a failure (exit 2) in every command") {
    TempDir tmp;
    const std::string image = random_ppm(tmp, "a.ppm", 32, 32, 7);
    const std::string x = tmp.path("x.safetensors");
    save_safetensors(x, {{"input", fixture("checkpoint_io")["input"]}});
    const std::vector<std::vector<std::string>> commands = {
        {"--help"},
        {"info", "--help"},
        {"info", "--weights", kTimm, "--heads", "4"},
        {"classify", "--weights", kTimm, "--heads", "4", image},
        {"classify", "--weights", kTimm, "--heads", "4", "--json", image, image},
        {"run", "--weights", kTimm, "--heads", "4", "--input", x, "--output",
         tmp.path("y.safetensors")},
        {"summary", "--weights", kTimm, "--heads", "4"},
        {"explain", "--weights", kTimm, "--heads", "4", image, "--out", tmp.path("pictures")},
    };
    for (const auto& args : commands) {
        CAPTURE(args[0]);
        FailingBuffer failing;
        std::ostream out(&failing);
        const Result r = vit_to(out, args);
        CAPTURE(r.err);
        CHECK(r.code == 2);
        CHECK(lines(r.err) == 1);
        CHECK(r.err.find("cannot write the output") != std::string::npos);
    }
}

TEST_CASE("vit run: an output that is an input, a device or a FIFO is refused before running") {
    TempDir tmp;
    const std::string w = tmp.path("w.safetensors"), x = tmp.path("x.safetensors");
    write_bytes(w, read_bytes(kTimm));
    save_safetensors(x, {{"input", fixture("checkpoint_io")["input"]}});
    const std::string w_bytes = read_bytes(w), x_bytes = read_bytes(x);
    const auto run = [&](const std::string& output) {
        return vit({"run", "--weights", w, "--heads", "4", "--input", x, "--output", output});
    };
    check_fails(run(w),
                "vit run: --output: '" + w + "': is the same file as the input '" + w + "'");
    check_fails(run(x), "is the same file as the input '" + x + "'");
    check_fails(run(tmp.dir.string() + "/./x.safetensors"), "is the same file as the input");
    const std::string link = tmp.path("link");
    REQUIRE(::symlink(w.c_str(), link.c_str()) == 0);
    check_fails(run(link), "is the same file as the input");
    CHECK(read_bytes(w) == w_bytes);
    CHECK(read_bytes(x) == x_bytes);
    const std::string fifo = tmp.path("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_fails(run(fifo), "is a FIFO (named pipe); only regular files are written");
    const std::string ok = tmp.path("y.safetensors");
    CHECK(run(ok).code == 0);
    CHECK(fs::is_regular_file(ok));
}

TEST_CASE("vit: NaN, inf or overflowing weights exit 2 naming where they come from") {
    TempDir tmp;
    const std::string image = random_ppm(tmp, "a.ppm", 32, 32, 8);
    const std::string x = tmp.path("x.safetensors");
    save_safetensors(x, {{"input", fixture("checkpoint_io")["input"]}});
    for (const float bad : {std::nanf(""), INFINITY}) {
        CAPTURE(bad);
        const std::string w =
            changed_checkpoint(tmp, "head.bias", [&](Tensor& t) { t.data()[3] = bad; });
        const std::string where = fmt::format(
            "the checkpoint's tensor 'head.bias' holds {} "
            "(element 3)",
            bad);
        for (const bool json : {false, true}) {
            Result r = vit(
                json ? std::vector<std::string>{"classify", "--weights", w, "--heads", "4",
                                                "--json", image, image}
                     : std::vector<std::string>{"classify", "--weights", w, "--heads", "4", image});
            check_fails(r, "the logits are not finite");
            check_fails(r, where);
            CHECK(r.out.find("nan") == std::string::npos);
            CHECK(r.out.find("null") == std::string::npos);
        }
        check_fails(vit({"run", "--weights", w, "--heads", "4", "--input", x, "--output",
                         tmp.path("y.safetensors")}),
                    where);
        CHECK_FALSE(fs::exists(tmp.path("y.safetensors")));
    }
    // Finite but huge: a layer overflows float32.
    const std::string w = changed_checkpoint(tmp, "patch_embed.proj.weight", [](Tensor& t) {
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] *= 1e38f;
    });
    check_fails(vit({"classify", "--weights", w, "--heads", "4", image}),
                "every weight is finite, so a layer overflowed float32");
    const std::string nan_block = changed_checkpoint(
        tmp, "blocks.0.norm1.weight", [](Tensor& t) { t.data()[0] = std::nanf(""); });
    check_fails(vit({"explain", "--weights", nan_block, "--heads", "4", image, "--out",
                     tmp.path("pictures")}),
                "the output of block 0 is not finite");
    CHECK_FALSE(fs::exists(tmp.path("pictures")));
}

TEST_CASE("vit: hostile headers are refused quickly with a message of readable length") {
    TempDir tmp;
    const std::string w = tmp.path("w.safetensors");
    TensorMap t = load_safetensors(kTimm);
    t[std::string(100000, 'x')] = zeros({1});
    save_safetensors(w, t);
    Result r = vit({"info", "--weights", w, "--heads", "4"});
    check_fails(r, "unexpected tensor 'xxxx");
    CHECK(r.err.size() < 1200);
    CHECK(r.err.find("more bytes)") != std::string::npos);
    // A block index beyond any real ViT: refused before a configuration of that depth is built.
    t = load_safetensors(kTimm);
    t["blocks.999999.norm1.weight"] = zeros({0});
    save_safetensors(w, t);
    check_fails(vit({"info", "--weights", w, "--heads", "4"}),
                "tensor 'blocks.999999.norm1.weight': block 999999 is more than the deepest "
                "model this project runs (128 blocks, 0 to 127)");
}

TEST_CASE("vit explain: each picture once, also for repeated --layers") {
    TempDir tmp;
    const std::string image = random_ppm(tmp, "a.ppm", 32, 32, 9);
    const Result r = vit({"explain", "--weights", kTimm, "--heads", "4", image, "--out",
                          tmp.path("pictures"), "--layers", "0,0", "--attn-heads", "1,1"});
    CHECK(r.code == 0);
    CHECK(r.out.find("wrote 4 pictures") != std::string::npos);
    CHECK(r.out.find("attention_layer0_head1.png") == r.out.rfind("attention_layer0_head1.png"));
}

TEST_CASE("vit info --scan: reads every weight and names the first NaN or inf") {
    TempDir tmp;
    Result r = vit({"info", "--weights", kTimm, "--heads", "4", "--scan"});
    CHECK(r.code == 0);
    CHECK(r.out.find(" numbers, all finite\n") != std::string::npos);
    const std::string w =
        changed_checkpoint(tmp, "norm.weight", [](Tensor& t) { t.data()[5] = -INFINITY; });
    CHECK(vit({"info", "--weights", w, "--heads", "4"}).code == 0);  // no scan: no reading
    r = vit({"info", "--weights", w, "--heads", "4", "--scan"});
    check_fails(r, "checkpoint '" + w + "': tensor 'norm.weight' holds -inf at element 5");
    CHECK(r.out.empty());
}
