#include "train/train_state.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "tensor/io/json.h"
#include "tensor/io/safetensors.h"
#include "train/curves.h"

namespace vitlab::train {

namespace {

std::string number(double v) {
    return fmt::format("{:.17g}", v);
}

const std::string& need(const std::map<std::string, std::string>& meta, const std::string& key,
                        const std::string& path) {
    auto it = meta.find(key);
    if (it == meta.end())
        throw std::runtime_error(fmt::format(
            "--resume: {} has no metadata '{}' (not written by vit train?)", path, key));
    return it->second;
}

int64_t need_int(const std::map<std::string, std::string>& meta, const std::string& key,
                 const std::string& path) {
    const std::string& text = need(meta, key, path);
    size_t used = 0;
    long long v = -1;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || v < 0)
        throw std::runtime_error(fmt::format(
            "--resume: {}: metadata '{}' is '{}', expected a whole number >= 0", path, key, text));
    return v;
}

double need_double(const std::map<std::string, std::string>& meta, const std::string& key,
                   const std::string& path) {
    const std::string& text = need(meta, key, path);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v))
        throw std::runtime_error(fmt::format(
            "--resume: {}: metadata '{}' is '{}', expected a finite number", path, key, text));
    return v;
}

// Throws when a weight is NaN or infinite: such a model must never replace a good checkpoint.
void check_finite(const VisionTransformer& model) {
    for (const auto& [name, p] : model.named_parameters()) {
        const Tensor c = p.contiguous();
        for (int64_t i = 0; i < c.numel(); ++i)
            if (!std::isfinite(c.data()[i]))
                throw std::runtime_error(fmt::format(
                    "parameter '{}' holds {} (element {}): not saving non-finite weights", name,
                    c.data()[i], i));
    }
}

}  // namespace

std::map<std::string, std::string> model_metadata(const VisionTransformer& model,
                                                  const TrainOptions& options,
                                                  const RunState& state) {
    const ViTConfig& c = model.config;
    std::string names;
    for (const std::string& n : options.class_names)
        names += (names.empty() ? "" : ", ") + json::quote(n);
    std::map<std::string, std::string> meta = {
        {"format", "pt"},
        {"model", options.model_name},
        {"num_heads", std::to_string(c.num_heads)},
        {"img_size", std::to_string(c.img_size)},
        {"in_chans", std::to_string(c.in_chans)},
        {"mean", fmt::format("{}", options.mean)},
        {"std", fmt::format("{}", options.std)},
        {"epoch", std::to_string(state.epoch)},
        {"step", std::to_string(state.global_step)},
        {"mid_epoch", state.step_in_epoch > 0 ? "true" : "false"},
    };
    if (!options.class_names.empty()) meta["class_names"] = "[" + names + "]";
    if (!state.history.empty())
        meta["test_acc"] = fmt::format("{:.4f}", state.history.back().test_acc);
    return meta;
}

void save_training_state(const std::string& dir, const VisionTransformer& model,
                         const optim::Optimizer& optimizer, const TrainOptions& options,
                         const RunState& state, int64_t steps_per_epoch) {
    namespace fs = std::filesystem;
    check_finite(model);
    fs::create_directories(dir);
    optim::OptimizerState opt = optimizer.state_dict();
    auto& m = opt.metadata;
    m["run.epoch"] = std::to_string(state.epoch);
    m["run.step_in_epoch"] = std::to_string(state.step_in_epoch);
    m["run.global_step"] = std::to_string(state.global_step);
    m["run.steps_per_epoch"] = std::to_string(steps_per_epoch);
    m["run.batch_size"] = std::to_string(options.batch_size);
    m["run.epochs"] = std::to_string(options.epochs);
    m["run.loss_sum"] = number(state.loss_sum);
    m["run.seconds"] = number(state.seconds);
    m["run.correct"] = std::to_string(state.correct);
    m["run.seen"] = std::to_string(state.seen);
    m["run.metrics_csv"] = metrics_csv(state.history);
    save_safetensors((fs::path(dir) / "optimizer.safetensors").string(), opt.tensors, m);
    save_safetensors((fs::path(dir) / "model.safetensors").string(), model.state_dict(),
                     model_metadata(model, options, state));
    write_metrics_csv((fs::path(dir) / "metrics.csv").string(), state.history);
    write_curves_png((fs::path(dir) / "curves.png").string(), state.history);
}

RunState load_training_state(const std::string& dir, VisionTransformer& model,
                             optim::Optimizer& optimizer, const TrainOptions& options,
                             int64_t steps_per_epoch) {
    namespace fs = std::filesystem;
    const std::string model_path = (fs::path(dir) / "model.safetensors").string();
    const std::string opt_path = (fs::path(dir) / "optimizer.safetensors").string();
    for (const std::string& p : {model_path, opt_path})
        if (!fs::is_regular_file(p))
            throw std::runtime_error(
                fmt::format("--resume: no {} (train without --resume first)", p));

    SafetensorsHeader model_header;
    const TensorMap weights = load_safetensors(model_path, &model_header);
    optim::OptimizerState opt;
    SafetensorsHeader opt_header;
    opt.tensors = load_safetensors(opt_path, &opt_header);
    opt.metadata = opt_header.metadata;
    const auto& m = opt.metadata;

    RunState s;
    s.epoch = need_int(m, "run.epoch", opt_path);
    s.step_in_epoch = need_int(m, "run.step_in_epoch", opt_path);
    s.global_step = need_int(m, "run.global_step", opt_path);
    if (need_int(model_header.metadata, "step", model_path) != s.global_step)
        throw std::runtime_error(fmt::format(
            "--resume: {} is at step {} but {} at step {}: the two files are from different "
            "moments (a crash while saving?)",
            model_path, model_header.metadata.at("step"), opt_path, s.global_step));
    const int64_t batch = need_int(m, "run.batch_size", opt_path);
    if (batch != options.batch_size)
        throw std::runtime_error(fmt::format("--resume: the run in {} used --batch {}, this one {}",
                                             dir, batch, options.batch_size));
    const int64_t spe = need_int(m, "run.steps_per_epoch", opt_path);
    if (spe != steps_per_epoch)
        throw std::runtime_error(fmt::format(
            "--resume: the run in {} had {} steps per epoch, this one {} (another dataset size "
            "or --train-limit?)",
            dir, spe, steps_per_epoch));
    if (s.global_step != s.epoch * steps_per_epoch + s.step_in_epoch)
        throw std::runtime_error(
            fmt::format("--resume: {}: step {} is not epoch {} x {} steps + {}", opt_path,
                        s.global_step, s.epoch, steps_per_epoch, s.step_in_epoch));
    // (Absent in the files of the first version of vit train.)
    s.planned_epochs = m.count("run.epochs") ? need_int(m, "run.epochs", opt_path) : options.epochs;
    s.loss_sum = need_double(m, "run.loss_sum", opt_path);
    s.seconds = need_double(m, "run.seconds", opt_path);
    s.correct = need_int(m, "run.correct", opt_path);
    s.seen = need_int(m, "run.seen", opt_path);
    try {
        s.history = parse_metrics_csv(need(m, "run.metrics_csv", opt_path));
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(fmt::format("--resume: {}: {}", opt_path, e.what()));
    }
    // Every check above comes before the model or the optimiser changes.
    model.load_state_dict(weights);
    optimizer.load_state_dict(opt);
    return s;
}

}  // namespace vitlab::train
