#include "train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "dataset/loader.h"
#include "optim/optim.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/epoch_bar.h"
#include "train/train_state.h"

namespace vitlab::train {

namespace {

// How many rows of logits (B, C) have their largest value at their label.
int64_t count_correct(const Tensor& logits, const std::vector<int64_t>& labels) {
    const Tensor l = logits.contiguous();
    const int64_t B = l.size(0), C = l.size(1);
    int64_t correct = 0;
    for (int64_t b = 0; b < B; ++b) {
        const float* row = l.data() + b * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; ++c)
            if (row[c] > row[best]) best = c;
        correct += best == labels[static_cast<size_t>(b)];
    }
    return correct;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

void validate(const TrainOptions& o) {
    const auto bad = [](const std::string& what) { throw std::invalid_argument(what); };
    if (o.epochs < 1) bad(fmt::format("train: epochs = {} must be >= 1", o.epochs));
    if (o.until_epoch < 0 || o.until_epoch > o.epochs)
        bad(fmt::format("train: until_epoch = {} must be from 0 to epochs = {}", o.until_epoch,
                        o.epochs));
    if (o.batch_size < 1) bad(fmt::format("train: batch_size = {} must be >= 1", o.batch_size));
    if (!(o.lr > 0) || !std::isfinite(o.lr)) bad(fmt::format("train: lr = {} must be > 0", o.lr));
    if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay))
        bad(fmt::format("train: weight_decay = {} must be >= 0", o.weight_decay));
    if (!(o.warmup >= 0 && o.warmup < 1))
        bad(fmt::format("train: warmup = {} must be a fraction in [0, 1)", o.warmup));
    if (!(o.label_smoothing >= 0 && o.label_smoothing <= 1))
        bad(fmt::format("train: label_smoothing = {} must be in [0, 1]", o.label_smoothing));
    if (o.crop_padding < 0)
        bad(fmt::format("train: crop_padding = {} must be >= 0", o.crop_padding));
    if (!(o.clip_grad >= 0) || !std::isfinite(o.clip_grad))
        bad(fmt::format("train: clip_grad = {} must be >= 0 (0: no clipping)", o.clip_grad));
    if (o.eval_batch_size < 1)
        bad(fmt::format("train: eval_batch_size = {} must be >= 1", o.eval_batch_size));
    if (o.resume && o.out_dir.empty()) bad("train: resume needs out_dir");
}

EvalResult evaluate(const VisionTransformer& model, const dataset::ImageDataset& data, float mean,
                    float std, int64_t batch_size) {
    if (data.size() == 0) throw std::invalid_argument("evaluate: the dataset is empty");
    autograd::NoGrad no_grad;
    dataset::LoaderOptions lo;
    lo.batch_size = batch_size;
    lo.shuffle = false;
    lo.mean = mean;
    lo.std = std;
    dataset::DataLoader loader(data, lo);
    dataset::Batch batch;
    double loss_sum = 0;
    int64_t correct = 0;
    for (loader.start_epoch(0); loader.next(batch);) {
        const Tensor logits = model(batch.images);  // (B, classes)
        const auto b = static_cast<double>(batch.labels.size());
        loss_sum += static_cast<double>(cross_entropy(logits, batch.targets()).item()) * b;
        correct += count_correct(logits, batch.labels);
    }
    const auto n = static_cast<double>(data.size());
    return {loss_sum / n, static_cast<double>(correct) / n};
}

TrainResult fit(VisionTransformer& model, const dataset::ImageDataset& train,
                const dataset::ImageDataset& test, const TrainOptions& o, std::ostream& log) {
    validate(o);
    if (train.size() == 0) throw std::invalid_argument("train: the training set is empty");
    model.requires_grad_();
    const std::vector<Tensor> params = model.parameters();

    // The recipe: AdamW over timm's two groups, warm-up then cosine over every step.
    optim::AdamWOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    optim::AdamW optimizer(
        optim::param_groups_weight_decay(model.named_parameters(), o.weight_decay), ao);
    dataset::LoaderOptions lo;
    lo.batch_size = o.batch_size;
    lo.shuffle = true;
    lo.seed = o.seed;
    lo.crop_padding = o.crop_padding;
    lo.hflip = o.hflip;
    lo.mean = o.mean;
    lo.std = o.std;
    dataset::DataLoader loader(train, lo);
    const int64_t steps_per_epoch = loader.num_batches();
    const int64_t total_steps = o.epochs * steps_per_epoch;
    const auto warmup_steps = static_cast<int64_t>(std::floor(o.warmup * double(total_steps)));
    optim::WarmupCosineLR scheduler(optimizer, warmup_steps, total_steps);

    RunState state;
    if (o.resume) {
        state = load_training_state(o.out_dir, model, optimizer, o, steps_per_epoch);
        scheduler.set_step(state.global_step);
        log << fmt::format(
            "resuming {} at epoch {}{} (step {} of {})\n", o.out_dir, state.epoch + 1,
            state.step_in_epoch > 0
                ? fmt::format(", step {} of {}", state.step_in_epoch + 1, steps_per_epoch)
                : "",
            state.global_step, total_steps);
        if (state.planned_epochs != o.epochs)
            log << fmt::format(
                "note: the run was planned for {} epochs, now {}: its learning-rate schedule "
                "changes from here on\n",
                state.planned_epochs, o.epochs);
    }
    if (state.epoch >= o.epochs)
        log << fmt::format("the run in {} has done {} epochs already: nothing to train\n",
                           o.out_dir, state.epoch);
    const auto save = [&] {
        if (!o.out_dir.empty())
            save_training_state(o.out_dir, model, optimizer, o, state, steps_per_epoch);
    };

    TrainResult result;
    dataset::Batch batch;
    const int64_t last_epoch = o.until_epoch > 0 ? o.until_epoch : o.epochs;
    for (int64_t epoch = state.epoch; epoch < last_epoch; ++epoch) {
        // Epoch `epoch` replays its own order and augmentations (loader.h); a run resumed
        // mid-epoch draws the batches it already trained on and skips them.
        loader.start_epoch(epoch);
        int64_t step = 0;
        for (; step < state.step_in_epoch; ++step) loader.next(batch);
        if (state.step_in_epoch == 0)
            state.loss_sum = 0, state.correct = 0, state.seen = 0, state.seconds = 0;
        EpochBar bar(fmt::format("epoch {}/{}", epoch + 1, o.epochs), steps_per_epoch, o.progress);
        auto start = std::chrono::steady_clock::now();
        const double seconds_before = state.seconds;
        while (loader.next(batch)) {
            const Tensor logits = model(batch.images);  // (B, classes)
            Tensor loss = cross_entropy(logits, batch.targets(), o.label_smoothing);
            const float value = loss.item();
            if (!std::isfinite(value))
                throw NonFiniteLoss(
                    fmt::format("epoch {}, step {} of {} (step {} of the run): the loss is {}; "
                                "stopped, the last good checkpoint stays{}",
                                epoch + 1, step + 1, steps_per_epoch, state.global_step + 1, value,
                                o.out_dir.empty()        ? " (none: no out_dir)"
                                : state.global_step == 0 ? " (none yet: this was the first step)"
                                                         : fmt::format(" in {}", o.out_dir)),
                    epoch + 1, step + 1);
            optimizer.zero_grad();
            loss.backward();
            if (o.clip_grad > 0) optim::clip_grad_norm_(params, o.clip_grad);
            optimizer.step();
            scheduler.step();

            const auto b = static_cast<int64_t>(batch.labels.size());
            state.loss_sum += static_cast<double>(value) * static_cast<double>(b);
            state.correct += count_correct(logits, batch.labels);
            state.seen += b;
            ++step, ++state.step_in_epoch, ++state.global_step;
            state.seconds = seconds_before + seconds_since(start);
            bar.update(step, state.loss_sum / double(state.seen),
                       double(state.correct) / double(state.seen),
                       double(state.seen) / state.seconds);

            if (o.stop && *o.stop && step < steps_per_epoch) {
                bar.finish();
                save();
                log << fmt::format(
                    "interrupted in epoch {} after step {} of {}: {}\n", epoch + 1, step,
                    steps_per_epoch,
                    o.out_dir.empty()
                        ? "nothing saved (no out_dir)"
                        : fmt::format("saved a mid-epoch checkpoint in {} (--resume continues "
                                      "with step {})",
                                      o.out_dir, step + 1));
                result.history = state.history;
                result.interrupted = true;
                result.global_step = state.global_step;
                return result;
            }
        }
        bar.finish();

        const EvalResult eval = evaluate(model, test, o.mean, o.std, o.eval_batch_size);
        EpochMetrics m;
        m.epoch = epoch + 1;
        m.train_loss = state.loss_sum / double(state.seen);
        m.train_acc = double(state.correct) / double(state.seen);
        m.test_loss = eval.loss;
        m.test_acc = eval.accuracy;
        m.lr = optimizer.param_groups()[0].lr;
        m.seconds = state.seconds;
        m.images_per_s = double(state.seen) / state.seconds;
        state.history.push_back(m);
        state.epoch = epoch + 1;
        state.step_in_epoch = 0;
        state.loss_sum = 0, state.correct = 0, state.seen = 0, state.seconds = 0;
        log << fmt::format(
            "epoch {}/{}  train loss {:.4f} acc {:.4f}  test loss {:.4f} acc {:.4f}  lr {:.2e}  "
            "{:.0f} images/s  {:.1f} s\n",
            m.epoch, o.epochs, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr,
            m.images_per_s, m.seconds);
        log.flush();
        save();
        if (o.stop && *o.stop && state.epoch < last_epoch) {
            // Asked to stop during the epoch's last step or its test pass: its checkpoint is
            // the one to resume from.
            log << fmt::format("interrupted after epoch {}: --resume continues with epoch {}\n",
                               state.epoch, state.epoch + 1);
            break;
        }
    }
    result.history = state.history;
    result.global_step = state.global_step;
    result.interrupted = o.stop && *o.stop && state.epoch < last_epoch;
    return result;
}

}  // namespace vitlab::train
