// commands.cpp: the `vit` command's table of its six commands (usage in vit_main.h), and
// three of them: info, classify and run (summary and explain have their own files).
//
// Each command is a function of its parsed arguments that writes to `out` and throws on any
// problem; vit_main() turns every exception into one line on `err` and exit status 2. The
// model comes from vit/checkpoint.h (naming detection, config inference, zero-copy loading),
// images from vision/ (decoders and timm's preprocessing).
#include "cli/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <new>

#include "cli/args.h"
#include "cli/vit_main.h"
#include "tensor/io/json.h"
#include "tensor/io/output_file.h"
#include "tensor/ops.h"
#include "tensor/parallel/thread_pool.h"
#include "tensor/util/progress.h"
#include "vision/image.h"
#include "vision/labels.h"
#include "vision/transforms.h"
#include "vit/checkpoint.h"

namespace vitlab::cli {

// ---- options -----------------------------------------------------------------------------------

const std::vector<Option>& model_options() {
    static const std::vector<Option> options = {
        {"--weights", "W",
         "checkpoint (.safetensors): timm or Hugging Face naming; F32, F16, BF16"},
        {"--model", "NAME", "a preset (vit_base_patch16_384[.tag]): fixes architecture and heads"},
        {"--heads", "N", "attention heads (default: from the model name, else by width)"},
    };
    return options;
}

const std::vector<Option>& run_options() {
    static const std::vector<Option> options = {
        {"--threads", "N",
         "threads for the blocked kernels (default: VITLAB_THREADS or all cores)"},
        {"--kernels", "K", "naive | blocked (default blocked)"},
    };
    return options;
}

const std::vector<Option>& preprocess_options() {
    static const std::vector<Option> options = {
        {"--mean", "A,B,C",
         "normalisation mean (default: 0.5 for augreg/Hugging Face, else ImageNet)"},
        {"--std", "A,B,C", "normalisation std (default: as --mean)"},
    };
    return options;
}

std::vector<Option> join_options(std::initializer_list<std::vector<Option>> lists) {
    std::vector<Option> out;
    for (const auto& list : lists) out.insert(out.end(), list.begin(), list.end());
    out.push_back({"--help", "", "this text"});
    return out;
}

namespace {

// ---- shared steps ------------------------------------------------------------------------------

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

Checkpoint load_for_command(const Args& args) {
    CheckpointOptions options;
    options.model = args.get("--model");
    options.num_heads = args.get_int("--heads", 0, 1, 4096);
    return load_checkpoint(args.required("--weights"), options);
}

namespace {

// "0.286" or "0.485,0.456,0.406": n finite numbers (positive for a std) from a checkpoint's
// metadata entry `key`.
std::vector<float> metadata_floats(const Checkpoint& ck, const std::string& key, size_t n,
                                   bool positive) {
    const std::string& text = ck.metadata.at(key);
    std::vector<float> out;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string item = text.substr(start, comma - start);
        char* end = nullptr;
        const float v = item.empty() ? NAN : std::strtof(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !std::isfinite(v) || (positive && !(v > 0.0f))) break;
        out.push_back(v);
        start = comma + 1;
    }
    if (out.size() != n)
        throw CheckpointError(fmt::format(
            "checkpoint '{}': metadata '{}' is '{}', expected {} comma-separated {}numbers (one "
            "per channel)",
            ck.path, key, text.substr(0, 60), n, positive ? "positive " : ""));
    return out;
}

}  // namespace

// A checkpoint written by `vit train` names its normalisation in its metadata; it saw its
// images as they are (no resize: crop_pct 1). Google's checkpoints (timm's augreg ones, and
// every Hugging Face google/vit-*) were trained on images scaled to [-1, 1]: mean = std = 0.5.
// Others use ImageNet's mean and std.
PreprocessConfig preprocess_for_command(const Checkpoint& ck, const Args& args, std::string* why) {
    const int64_t channels = ck.config.in_chans;
    if (channels != 1 && channels != 3)
        throw CheckpointError(fmt::format(
            "checkpoint '{}': the model takes {} channels; images give 1 (gray) or 3 (RGB)",
            ck.path, channels));
    const auto n = static_cast<size_t>(channels);
    const bool google = ck.naming == Naming::HuggingFace ||
                        lower(ck.model_name).find("augreg") != std::string::npos ||
                        lower(ck.path).find("augreg") != std::string::npos;
    PreprocessConfig p = vit_preprocess_config(ck.config.img_size, google);
    p.channels = channels;
    if (ck.metadata.count("mean") && ck.metadata.count("std")) {
        p.crop_pct = 1.0;
        p.mean = metadata_floats(ck, "mean", n, false);
        p.stddev = metadata_floats(ck, "std", n, true);
        *why = "the checkpoint's metadata";
    } else if (channels == 1) {
        p.mean = {0.5f};
        p.stddev = {0.5f};
        *why = "gray model without metadata: mean = std = 0.5";
    } else {
        *why = ck.naming == Naming::HuggingFace ? "Hugging Face ViT: mean = std = 0.5"
               : google                         ? "augreg checkpoint: mean = std = 0.5"
                                                : "ImageNet mean and std";
    }
    if (args.has("--mean")) p.mean = args.get_floats("--mean", n, false);
    if (args.has("--std")) p.stddev = args.get_floats("--std", n, true);
    if (args.has("--mean") || args.has("--std")) *why = "--mean/--std";
    return p;
}

namespace {

std::string floats(const std::vector<float>& v) {
    return fmt::format("({})", fmt::join(v, ", "));
}

// A JSON string even for bytes that are not UTF-8 (a file name can be anything).
std::string json_string(const std::string& s) {
    if (json::is_valid_utf8(s)) return json::quote(s);
    std::string ascii = s;
    for (char& c : ascii)
        if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    return json::quote(ascii);
}

std::string json_number(float v) {
    return std::isfinite(v) ? fmt::format("{}", v) : "null";
}

// 86859496 -> "86,859,496"
std::string grouped(int64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string mb(double bytes) {
    return fmt::format("{:.1f} MB", bytes / 1e6);
}

// ---- non-finite numbers ------------------------------------------------------------------------

// NaN, inf, or a weight so large that a layer overflows float32, gives NaN logits and a top-k
// in index order. PyTorch would print the NaNs; a student is better served by an error that
// names where they come from.
struct NonFiniteError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The flat index of the first NaN or inf in t, or -1.
int64_t first_non_finite(const Tensor& t) {
    const Tensor c = t.contiguous();
    const float* p = c.data();
    for (int64_t i = 0; i < c.numel(); ++i)
        if (!std::isfinite(p[i])) return i;
    return -1;
}

// "the tensor 'blocks.0.norm1.weight' holds nan (element 3)", or what it means that none does.
std::string non_finite_source(const Checkpoint& ck) {
    for (const auto& [name, t] : ck.tensors) {
        const int64_t i = first_non_finite(t);
        if (i >= 0)
            return fmt::format("the checkpoint's tensor '{}' holds {} (element {})", name,
                               t.contiguous().data()[i], i);
    }
    return "every weight is finite, so a layer overflowed float32 (|x| > 3.4e38): are the "
           "weights scaled right?";
}

}  // namespace

// Throws NonFiniteError when `t` holds a NaN or an infinity; what: "the logits are".
void check_finite_for_command(const Tensor& t, const Checkpoint& ck, const std::string& what) {
    const int64_t i = first_non_finite(t);
    if (i < 0) return;
    throw NonFiniteError(fmt::format("checkpoint '{}': {} not finite ({} at element {} of {}); {}",
                                     ck.path, what, t.contiguous().data()[i], i,
                                     to_string(t.shape()), non_finite_source(ck)));
}

namespace {

// The checkpoint's "class_names": a JSON array of exactly num_classes non-empty strings.
std::vector<std::string> metadata_class_names(const Checkpoint& ck) {
    const auto bad = [&](const std::string& why) {
        return CheckpointError(
            fmt::format("checkpoint '{}': metadata 'class_names' {}", ck.path, why));
    };
    json::Value v;
    try {
        v = json::parse(ck.metadata.at("class_names"));
    } catch (const json::ParseError& e) {
        throw bad(fmt::format("is not JSON: {}", e.what()));
    }
    if (!v.is(json::Type::Array)) throw bad("is not a JSON array of names");
    std::vector<std::string> names;
    for (const json::Value& item : v.as_array()) {
        const bool control =
            item.is(json::Type::String) &&
            std::any_of(item.as_string().begin(), item.as_string().end(),
                        [](char ch) { return static_cast<unsigned char>(ch) < 0x20; });
        if (!item.is(json::Type::String) || item.as_string().empty() ||
            item.as_string().size() > kMaxLabelBytes || control)
            throw bad("holds something other than a name (a non-empty string on one line)");
        names.push_back(item.as_string());
    }
    if (names.size() != static_cast<size_t>(ck.config.num_classes))
        throw bad(
            fmt::format("holds {} names for {} classes", names.size(), ck.config.num_classes));
    return names;
}

}  // namespace

// ---- vit info ----------------------------------------------------------------------------------

namespace {

const std::vector<Option> kInfoOptions =
    join_options({model_options(),
                  {{"--scan", "", "read every weight: exit 2 naming the first NaN or inf"}},
                  preprocess_options()});

const char* kInfoHelp =
    "usage: vit info --weights W [options]\n"
    "\n"
    "What a checkpoint holds: its naming (timm or Hugging Face), the configuration read off\n"
    "the tensor shapes, the parameter count, the preprocessing `vit classify` will use, and\n"
    "every tensor with its dtype, shape and the timm name it becomes. --scan also reads every\n"
    "weight and fails (exit 2) on the first NaN or infinity.\n"
    "\n";

}  // namespace

int info(const Args& args, std::ostream& out, const Report& /*report*/) {
    if (!args.positional().empty())
        throw UsageError(fmt::format("unexpected argument '{}'", args.positional()[0]));
    const Checkpoint ck = load_for_command(args);
    const ViTConfig& c = ck.config;
    std::string why;
    const PreprocessConfig p = preprocess_for_command(ck, args, &why);
    if (args.has("--scan")) {
        // Every weight is read (the whole file), so only on request.
        int bad = 0;
        std::string first;
        for (const auto& [name, t] : ck.tensors) {
            const int64_t i = first_non_finite(t);
            if (i < 0) continue;
            if (bad++ == 0)
                first = fmt::format("tensor '{}' holds {} at element {}", name,
                                    t.contiguous().data()[i], i);
        }
        if (bad > 0)
            throw NonFiniteError(fmt::format(
                "checkpoint '{}': {}{}; the model would compute NaN", ck.path, first,
                bad > 1 ? fmt::format(" (and {} more tensors with NaN or inf)", bad - 1) : ""));
    }

    int64_t stored_numel = 0;
    std::map<std::string, int> dtype_count;
    for (const StoredTensor& t : ck.stored) {
        stored_numel += numel(t.shape);
        ++dtype_count[t.dtype];
    }
    std::string dtypes;
    for (const auto& [dtype, n] : dtype_count)
        dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", n, dtype);

    out << fmt::format("file        {}\n", ck.path);
    out << fmt::format("naming      {}\n", to_string(ck.naming));
    out << fmt::format("model       {}{}\n", c.name,
                       ck.model_name.empty() || ck.model_name == c.name
                           ? ""
                           : fmt::format(" (name in the path: {})", ck.model_name));
    out << fmt::format(
        "image       {} x {}, {} channels, patches {} x {}: a {} x {} grid, {} "
        "tokens with the class token\n",
        c.img_size, c.img_size, c.in_chans, c.patch_size, c.patch_size, c.grid_size(),
        c.grid_size(), c.num_tokens());
    out << fmt::format(
        "encoder     width {}, depth {}, heads {} of {} dims ({}), mlp {}, qkv "
        "bias {}, layer norm eps {}\n",
        c.embed_dim, c.depth, c.num_heads, c.head_dim(), ck.heads_source, c.mlp_dim,
        c.qkv_bias ? "yes" : "no", c.layer_norm_eps);
    std::string names;
    if (ck.metadata.count("class_names")) {
        try {
            names = fmt::format(": {}", fmt::join(metadata_class_names(ck), ", "));
        } catch (const CheckpointError&) {
            names = " (the metadata's class names are unusable; vit classify says why)";
        }
    }
    out << fmt::format("classes     {}{}\n", c.num_classes, names);
    // Written by `vit train`: where the run was when it saved these weights.
    const auto meta = [&](const char* key) {
        auto it = ck.metadata.find(key);
        return it == ck.metadata.end() ? std::string() : it->second;
    };
    if (!meta("epoch").empty() && !meta("step").empty())
        out << fmt::format("trained     by vit train: {} epochs done, step {}{}{}\n", meta("epoch"),
                           meta("step"), meta("mid_epoch") == "true" ? " (saved mid-epoch)" : "",
                           meta("test_acc").empty() ? "" : ", test accuracy " + meta("test_acc"));
    out << fmt::format("parameters  {} ({} as float32)\n", grouped(c.num_parameters()),
                       mb(4.0 * c.num_parameters()));
    out << fmt::format(
        "preprocess  resize bicubic (crop_pct {}), center crop {}, mean {}, std "
        "{} ({})\n",
        p.crop_pct, p.input_size, floats(p.mean), floats(p.stddev), why);
    out << fmt::format("kernels     {}\n", isa_summary());
    out << fmt::format("tensors     {} ({}), {} numbers{}\n", ck.stored.size(), dtypes,
                       grouped(stored_numel), args.has("--scan") ? ", all finite" : "");
    size_t width = 0;
    for (const StoredTensor& t : ck.stored) width = std::max(width, t.name.size());
    for (const StoredTensor& t : ck.stored) {
        const std::string renamed =
            t.timm_name == t.name ? "" : fmt::format("  -> {}", t.timm_name);
        out << fmt::format("  {:<{}}  {:<4}  {}{}\n", t.name, width, t.dtype, to_string(t.shape),
                           renamed);
    }
    return 0;
}

// ---- vit classify ------------------------------------------------------------------------------

namespace {

const std::vector<Option> kClassifyOptions = join_options(
    {model_options(),
     {{"--topk", "K", "how many classes to show per image (default 5)"},
      {"--json", "", "one JSON object per image, one per line (see above)"},
      {"--labels", "FILE", "class names, one per line (default: ImageNet-1k's for 1000)"}},
     preprocess_options(),
     run_options()});

const char* kClassifyHelp =
    "usage: vit classify --weights W IMAGE... [--topk 5] [--json] [options]\n"
    "\n"
    "The top-k classes of each image with their probabilities. Images are PPM/PGM, PNG or\n"
    "JPEG; each is resized (bicubic), center-cropped to the model's input size and normalised\n"
    "as timm does for the checkpoint. --json prints, per image, one line:\n"
    "  {\"image\": \"cat.png\", \"topk\": [{\"index\": 281, \"label\": \"tabby\", \"logit\": 9.1, "
    "\"prob\": 0.8}, ...]}\n"
    "An image that cannot be read is reported on stderr and the others are still classified;\n"
    "the exit status is then 2.\n"
    "\n";

// --labels, else the names a training run wrote into the checkpoint, else ImageNet's for 1000
// classes, else "class 0", "class 1", ...
std::vector<std::string> class_names(const Args& args, const Checkpoint& ck) {
    const int64_t num_classes = ck.config.num_classes;
    const auto n = static_cast<size_t>(num_classes);
    if (args.has("--labels")) return load_labels(args.required("--labels"), n);
    if (ck.metadata.count("class_names")) return metadata_class_names(ck);
    if (num_classes == 1000) {
        try {
            return load_labels(imagenet_labels_path(), n);
        } catch (const FileError&) {
            // The binary was moved away from its source tree: numbered classes will do.
        }
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) names.push_back(fmt::format("class {}", i));
    return names;
}

}  // namespace

int classify(const Args& args, std::ostream& out, const Report& report) {
    const std::vector<std::string>& images = args.positional();
    if (images.empty()) throw UsageError("no IMAGE given");
    const int64_t k_wanted = args.get_int("--topk", 5, 1, 1'000'000);
    const bool as_json = args.has("--json");

    const Checkpoint ck = load_for_command(args);
    std::string why;
    const PreprocessConfig pre = preprocess_for_command(ck, args, &why);
    const std::vector<std::string> names = class_names(args, ck);
    const auto model = make_vit(ck);
    const int64_t k = std::min(k_wanted, ck.config.num_classes);
    if (!as_json)
        out << fmt::format("{} ({}, {} x {}, mean {}, std {})\n", ck.config.name,
                           to_string(ck.naming), pre.input_size, pre.input_size, floats(pre.mean),
                           floats(pre.stddev));

    // A bar on stderr for many images whose results go to a file or a pipe (on a terminal the
    // result lines themselves show the progress).
    Progress bar("classify", static_cast<int64_t>(images.size()),
                 images.size() > 1 && progress_enabled() && !isatty(1));
    int status = 0;
    for (const std::string& path : images) {
        try {
            const Tensor x = preprocess(read_image(path), pre);  // (1, C, S, S)
            const Tensor logits = (*model)(x);                   // (1, classes)
            const TopK top = topk(softmax(logits, -1), k, -1);   // (1, k)
            check_finite_for_command(logits, ck, "the logits are");
            std::vector<std::string> rows;
            for (int64_t i = 0; i < k; ++i) {
                const int64_t index = top.indices.at({0, i});
                const float prob = top.values.at({0, i}), logit = logits.at({0, index});
                const std::string& label = names[static_cast<size_t>(index)];
                rows.push_back(as_json ? fmt::format("{{\"index\": {}, \"label\": {}, \"logit\": "
                                                     "{}, \"prob\": {}}}",
                                                     index, json_string(label), json_number(logit),
                                                     json_number(prob))
                                       : fmt::format("  {:6.2f}%  {}  (class {}, logit {:.4f})",
                                                     100.0f * prob, label, index, logit));
            }
            if (as_json)
                out << fmt::format("{{\"image\": {}, \"topk\": [{}]}}\n", json_string(path),
                                   fmt::join(rows, ", "));
            else
                out << fmt::format("{}\n{}\n", path, fmt::join(rows, "\n"));
            out.flush();
        } catch (const NonFiniteError&) {
            throw;  // the checkpoint's fault, the same for every image
        } catch (const ThreadStartError&) {
            throw;  // the machine's, not the image's
        } catch (const std::exception& e) {
            const std::string what = e.what();
            report(what.find(path) == std::string::npos ? path + ": " + what : what);
            status = 2;
        }
        bar.advance();
        if (!out) break;  // stdout is gone (disk full, closed pipe): vit_main reports it
    }
    return status;
}

// ---- vit run -----------------------------------------------------------------------------------

namespace {

const std::vector<Option> kRunCommandOptions = join_options(
    {model_options(),
     {{"--input", "X", "safetensors file holding the images tensor (B, 3, H, W)"},
      {"--input-key", "NAME", "which tensor of X (default: 'input', or its only tensor)"},
      {"--output", "Y", "safetensors file to write, with one tensor 'logits' (B, classes)"}},
     run_options()});

const char* kRunHelp =
    "usage: vit run --weights W --input X.safetensors --output Y.safetensors [options]\n"
    "\n"
    "The raw forward pass, for comparing with PyTorch and for scripts: the (B, 3, H, W) tensor\n"
    "in X goes through the model as it is (no resizing, no normalisation) and the logits\n"
    "(B, classes) are written to Y as tensor 'logits'.\n"
    "\n";

}  // namespace

int run(const Args& args, std::ostream& out, const Report& /*report*/) {
    if (!args.positional().empty())
        throw UsageError(fmt::format("unexpected argument '{}'", args.positional()[0]));
    const std::string input_path = args.required("--input");
    const std::string output_path = args.required("--output");
    // Before the slow part: an output that is one of the inputs would destroy it.
    check_not_an_input(output_path, {args.required("--weights"), input_path}, "--output");
    const Checkpoint ck = load_for_command(args);

    const TensorMap inputs = load_safetensors(input_path);
    std::string key = args.get("--input-key");
    if (key.empty()) {
        if (inputs.count("input") || inputs.size() != 1)
            key = "input";
        else
            key = inputs.begin()->first;
    }
    auto it = inputs.find(key);
    if (it == inputs.end()) {
        std::string keys;
        for (const auto& entry : inputs) keys += (keys.empty() ? "'" : ", '") + entry.first + "'";
        throw FileError(
            fmt::format("{}: has no tensor '{}' (it has {}); choose one with "
                        "--input-key",
                        input_path, key, keys.empty() ? "none" : keys));
    }
    const Tensor& x = it->second;
    const ViTConfig& c = ck.config;
    if (x.dim() != 4 || x.size(0) < 1 || x.size(1) != c.in_chans || x.size(2) != c.img_size ||
        x.size(3) != c.img_size)
        throw FileError(fmt::format(
            "{}: tensor '{}' has shape {}, expected (B, {}, {}, {}) with "
            "B >= 1 for {}",
            input_path, key, to_string(x.shape()), c.in_chans, c.img_size, c.img_size, c.name));
    const auto model = make_vit(ck);
    const Tensor logits = (*model)(x);  // (B, classes)
    check_finite_for_command(logits, ck, "the logits are");
    save_safetensors(output_path, {{"logits", logits}});
    out << fmt::format("{}: logits {}\n", output_path, to_string(logits.shape()));
    return 0;
}

// ---- dispatch ----------------------------------------------------------------------------------

namespace {

const char* kMainHelp =
    "usage: vit <command> [options]\n"
    "\n"
    "A Vision Transformer from checkpoints in timm or Hugging Face naming.\n"
    "\n"
    "commands:\n"
    "  info       what a checkpoint holds: naming, configuration, parameters, tensors\n"
    "  classify   the top classes of images (PPM/PGM, PNG, JPEG)\n"
    "  run        raw forward: a (B, 3, H, W) tensor in, logits out (safetensors files)\n"
    "  summary    the model as a table: layers, output shapes, parameters, multiply-adds\n"
    "  explain    pictures (PNG): patch grid, attention maps, rollout, position embeddings\n"
    "  train      train a ViT from scratch on Fashion-MNIST (checkpoint, metrics, curves)\n"
    "\n"
    "'vit <command> --help' shows a command's options. Exit status: 0 on success, 2 on bad\n"
    "usage or bad input (one line on stderr naming the file and the problem).\n";

const Command kCommands[] = {{"info", kInfoHelp, &kInfoOptions, info},
                             {"classify", kClassifyHelp, &kClassifyOptions, classify},
                             {"run", kRunHelp, &kRunCommandOptions, run},
                             {"summary", kSummaryHelp, &kSummaryOptions, summary},
                             {"explain", kExplainHelp, &kExplainOptions, explain},
                             {"train", kTrainHelp, &kTrainOptions, train}};

// One line: a message from a hostile file may hold newlines or other control bytes.
std::string one_line(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
}

// Kernel choice and thread count are process-wide: put them back for the caller (the tests).
// Reads the thread setting without get_num_threads(), which would throw on a bad VITLAB_THREADS
// before vit_main can report it.
struct RestoreGlobals {
    Kernel kernel = default_kernel();
    int threads = chosen_num_threads();
    ~RestoreGlobals() {
        set_default_kernel(kernel);
        if (threads > 0)
            set_num_threads(threads);
        else
            reset_num_threads();
    }
};

// A message cut to a readable length: a hostile file can make one megabytes long (a name in
// the header). Cut at a character boundary, so UTF-8 stays UTF-8.
std::string shortened(std::string s) {
    constexpr size_t kMax = 1000;
    if (s.size() <= kMax) return s;
    size_t cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    const size_t dropped = s.size() - cut;
    s.resize(cut);
    return s + fmt::format("... ({} more bytes)", dropped);
}

// Output that could not be written is a failure: a full disk or a closed pipe must not end
// with exit status 0 and a truncated result.
bool output_failed(std::ostream& out, std::string* why) {
    errno = 0;
    out.flush();
    if (out) return false;
    *why = errno ? std::strerror(errno) : "a write failed (is the disk full, or the reader gone?)";
    return true;
}

int run_command(const std::vector<std::string>& words, const Command& command, std::ostream& out,
                const Report& report) {
    const Args args(std::vector<std::string>(words.begin() + 1, words.end()), *command.options);
    if (args.has("--help")) {
        out << command.help << "options:\n" << options_help(*command.options);
        return 0;
    }
    // --threads wins over VITLAB_THREADS; without it a bad VITLAB_THREADS is reported here,
    // not in the middle of a forward pass.
    if (args.has("--threads"))
        set_num_threads(int(args.get_int("--threads", 1, 1, kMaxThreads)));
    else
        get_num_threads();
    if (args.has("--kernels")) {
        const std::string k = args.get("--kernels");
        if (k != "naive" && k != "blocked")
            throw UsageError(fmt::format("--kernels must be naive or blocked, got '{}'", k));
        set_default_kernel(parse_kernel(k));
    }
    args.get_floats("--mean", 3, false);  // checked before the (slow) loading
    args.get_floats("--std", 3, true);
    return command.run(args, out, report);
}

}  // namespace

int vit_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    std::vector<std::string> words(argv + std::min(argc, 1), argv + std::max(argc, 1));
    if (words.empty()) {
        err << kMainHelp;
        return 2;
    }
    std::string why;
    if (words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
        out << kMainHelp;
        if (output_failed(out, &why)) {
            err << fmt::format("vit: cannot write the output: {}\n", why);
            return 2;
        }
        return 0;
    }
    const Command* command = nullptr;
    for (const Command& c : kCommands)
        if (words[0] == c.name) command = &c;
    if (!command) {
        err << fmt::format(
            "vit: unknown command '{}' (commands: info, classify, run, summary, explain, train; "
            "see 'vit "
            "--help')\n",
            shortened(one_line(words[0])));
        return 2;
    }
    const std::string name = command->name;
    const auto report = [&](const std::string& message) {
        err << fmt::format("vit {}: {}\n", name, shortened(one_line(message)));
    };

    RestoreGlobals restore;
    int status = 2;
    try {
        status = run_command(words, *command, out, report);
    } catch (const UsageError& e) {
        report(fmt::format("{} (see 'vit {} --help')", e.what(), name));
    } catch (const std::bad_alloc&) {
        report("out of memory");
    } catch (const std::exception& e) {
        report(e.what());
    }
    if (output_failed(out, &why)) {
        report(fmt::format("cannot write the output: {}", why));
        return 2;
    }
    return status;
}

}  // namespace vitlab::cli
