// train_state.h: the files of a training run, and reading them back for --resume.
//
//   model.safetensors      the weights in timm's names (patch_embed.proj.weight, cls_token,
//                          pos_embed, blocks.{i}..., norm, head), loadable by `vit classify`,
//                          `vit explain`, `vit info` and by timm; its "__metadata__" says what
//                          classify needs: "model", "num_heads", "img_size", "in_chans",
//                          "mean", "std", "class_names" (a JSON array), and where the run was:
//                          "epoch", "step", "mid_epoch" ("true" when saved by a stop request)
//   optimizer.safetensors  AdamW's buffers and step counts (optim/optimizer.h), the run's
//                          position and its metrics so far (metadata "run.*")
//   metrics.csv            metrics.h     curves.png   curves.h
// Each file is written whole or not at all (tensor/io/output_file.h), the optimiser's first:
// both safetensors files carry the global step, and resuming from a pair that disagrees (a
// crash between the two writes) is refused.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "train/metrics.h"
#include "train/trainer.h"
#include "vit/vision_transformer.h"

namespace vitlab::train {

// Where a run stands, besides the weights and the optimiser's buffers.
struct RunState {
    int64_t epoch = 0;           // epochs finished
    int64_t step_in_epoch = 0;   // > 0: saved mid-epoch, after this many steps of epoch + 1
    int64_t global_step = 0;     // optimiser steps of the whole run
    int64_t planned_epochs = 0;  // the --epochs of the run that saved it
    // The running sums of the unfinished epoch (mid-epoch only).
    double loss_sum = 0, seconds = 0;
    int64_t correct = 0, seen = 0;
    std::vector<EpochMetrics> history;
};

// The metadata of model.safetensors.
std::map<std::string, std::string> model_metadata(const VisionTransformer& model,
                                                  const TrainOptions& options,
                                                  const RunState& state);

// Writes the four files into dir (created if missing). steps_per_epoch is checked on resume.
void save_training_state(const std::string& dir, const VisionTransformer& model,
                         const optim::Optimizer& optimizer, const TrainOptions& options,
                         const RunState& state, int64_t steps_per_epoch);

// Loads dir's model.safetensors into model (shapes must match: load_state_dict) and its
// optimizer.safetensors into optimizer, and returns where the run stood. Throws
// std::runtime_error naming the file when one is missing or they disagree with each other, or
// with this run (batch size, steps per epoch).
RunState load_training_state(const std::string& dir, VisionTransformer& model,
                             optim::Optimizer& optimizer, const TrainOptions& options,
                             int64_t steps_per_epoch);

}  // namespace vitlab::train
