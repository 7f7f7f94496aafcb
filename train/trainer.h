// trainer.h: training a VisionTransformer on an image dataset, the loop of every PyTorch
// training script:
//
//   for epoch in range(epochs):
//       for images, labels in loader:                     # shuffled, optionally augmented
//           loss = cross_entropy(model(images), labels, label_smoothing)
//           optimizer.zero_grad(); loss.backward()
//           clip_grad_norm_(model.parameters(), clip)      # optional
//           optimizer.step(); scheduler.step()             # AdamW, warm-up then cosine
//       test_loss, test_acc = evaluate(model, test_set)    # under no_grad
//       save the checkpoint, metrics.csv, curves.png
//
// The recipe's defaults are the ones the PyTorch anchor uses: AdamW lr 3e-3, weight
// decay 0.05 on weights only (timm's no-decay groups: biases, norms, pos_embed, cls_token),
// batch 128, linear warm-up over the first 10% of steps from lr * 1e-3, then cosine to 0, no
// augmentation, no label smoothing.
//
// What it promises:
//   - the same seed and the same thread count give the same numbers, bit for bit (the kernels
//     split work by thread count, so another count may round differently);
//   - resuming (options.resume) from the checkpoint of epoch e, or from one saved mid-epoch by
//     a stop request, gives bit for bit the weights an uninterrupted run has at the end;
//   - a NaN or infinite loss throws NonFiniteLoss naming the epoch and step before anything is
//     written, so the checkpoint on disk stays the last good one; weights are checked finite
//     before every save as well.
// Files written into out_dir (train_state.h): model.safetensors, optimizer.safetensors,
// metrics.csv (metrics.h), curves.png (curves.h).
#pragma once

#include <csignal>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataset/fashion_mnist.h"
#include "train/metrics.h"
#include "vit/vision_transformer.h"

namespace vitlab::train {

struct TrainOptions {
    int64_t epochs = 10;      // the run's length: the schedule spans them all
    int64_t until_epoch = 0;  // > 0: stop after this epoch (resume later); 0: epochs
    int64_t batch_size = 128;
    double lr = 3e-3;            // the peak learning rate, reached after the warm-up
    double weight_decay = 0.05;  // on the decay group only
    double warmup = 0.1;         // fraction of all steps spent warming up, in [0, 1)
    float label_smoothing = 0.0f;
    int64_t crop_padding = 0;  // RandomCrop(28, padding); 0: none
    bool hflip = false;        // RandomHorizontalFlip
    double clip_grad = 0.0;    // max gradient norm; 0: no clipping
    uint64_t seed = 0;         // the data order and augmentations (the model has its own)
    float mean = dataset::kFashionMnistMean, std = dataset::kFashionMnistStd;
    int64_t eval_batch_size = 500;

    // For the checkpoint's metadata, so that `vit classify` names the classes.
    std::string model_name = "custom";
    std::vector<std::string> class_names;

    std::string out_dir;    // where the files go (created if missing); "" writes nothing
    bool resume = false;    // continue from out_dir's checkpoint
    bool progress = false;  // the epoch bar on stderr (epoch_bar.h)
    // When it becomes non-zero (a SIGINT handler sets it), training stops after the current
    // step and saves a mid-epoch checkpoint.
    const volatile std::sig_atomic_t* stop = nullptr;
};

// Throws std::invalid_argument naming the first option out of range.
void validate(const TrainOptions& options);

// A NaN or infinite loss: "epoch 3, step 17 of 469 (step 955 of the run): the loss is nan".
struct NonFiniteLoss : std::runtime_error {
    NonFiniteLoss(const std::string& what, int64_t epoch, int64_t step)
        : std::runtime_error(what), epoch(epoch), step(step) {}
    int64_t epoch, step;  // both from 1
};

struct EvalResult {
    double loss = 0;      // mean cross-entropy (no label smoothing) over the images
    double accuracy = 0;  // fraction of images whose largest logit is their label
};

// The model on every image of data, in batches, under NoGrad; normalised with mean and std.
EvalResult evaluate(const VisionTransformer& model, const dataset::ImageDataset& data, float mean,
                    float std, int64_t batch_size = 500);

struct TrainResult {
    std::vector<EpochMetrics> history;  // every epoch so far, resumed ones included
    bool interrupted = false;           // stopped by options.stop, mid-epoch checkpoint saved
    int64_t global_step = 0;            // optimiser steps taken in the whole run
};

// Trains model (its parameters are set to require grad) on train, evaluates on test after each
// epoch, and writes the files; one line per epoch goes to log.
TrainResult fit(VisionTransformer& model, const dataset::ImageDataset& train,
                const dataset::ImageDataset& test, const TrainOptions& options, std::ostream& log);

}  // namespace vitlab::train
