// loader.h: batches of a dataset as tensors, shuffled and augmented with a seeded Generator,
// as torch.utils.data.DataLoader with torchvision's transforms:
//
//   DataLoader loader(train, {.batch_size = 128, .shuffle = true, .seed = 0});
//   for (int epoch = 0; epoch < 10; ++epoch)
//       for (loader.start_epoch(epoch); loader.next(batch);)
//           ... batch.images (B, 1, 28, 28), batch.labels (B) int64, batch.targets() (B)
//
// Each image goes through, in this order:
//   RandomCrop(size H x W, padding = crop_padding): pad every side with crop_padding zero
//     pixels, then cut an H x W window at a random offset (dy, dx) in [0, 2 * padding]^2
//   RandomHorizontalFlip(p = 0.5) when hflip is set
//   ToTensor + Normalize: x = (pixel / 255 - mean) / std
// Epoch e draws its random numbers (the shuffle, Fisher-Yates, then each image's crop and flip
// in batch order) from its own Generator seeded with epoch_seed(seed, e): same seed, same
// epochs, same batches, bit for bit, and epoch e can be replayed alone (resuming a training
// run at epoch e, as PyTorch's DistributedSampler.set_epoch(e) does).
#pragma once

#include <cstdint>
#include <vector>

#include "dataset/fashion_mnist.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace vitlab::dataset {

struct Batch {
    Tensor images;                 // (B, 1, H, W), normalised
    std::vector<int64_t> labels;   // (B)
    std::vector<int64_t> indices;  // (B) which items of the dataset
    // The labels as the float class indices cross_entropy takes, (B).
    Tensor targets() const;
};

struct LoaderOptions {
    int64_t batch_size = 128;
    bool shuffle = true;
    bool drop_last = false;  // drop the last batch when it has fewer than batch_size items
    uint64_t seed = 0;
    int64_t crop_padding = 0;  // 0: no random crop
    bool hflip = false;
    float mean = kFashionMnistMean;
    float std = kFashionMnistStd;
};

// The seed of epoch e's Generator: seed and e mixed by one SplitMix64 step, so that nearby
// seeds and epochs give unrelated streams.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

// An integer uniform in [0, n), by rejection so that every value is equally likely.
int64_t uniform_int(Generator& gen, int64_t n);

// Augments one (H, W) image: out must hold H*W bytes. Exposed for tests and tutorials.
void random_crop_flip(const uint8_t* in, uint8_t* out, int64_t height, int64_t width,
                      int64_t padding, bool hflip, Generator& gen);

class DataLoader {
  public:
    // The loader keeps a reference: data must outlive it.
    DataLoader(const ImageDataset& data, LoaderOptions options);
    DataLoader(ImageDataset&& data, LoaderOptions options) = delete;  // would dangle

    int64_t num_batches() const;
    // Starts epoch `epoch` (from 0): its order when shuffling, its augmentations.
    void start_epoch(int64_t epoch);
    // Starts the epoch after the last one started (epoch 0 first).
    void start_epoch() { start_epoch(next_epoch_); }
    // The next batch of this epoch; false when the epoch is over.
    bool next(Batch& batch);

  private:
    const ImageDataset& data_;
    LoaderOptions options_;
    Generator gen_;
    std::vector<int64_t> order_;
    int64_t position_ = 0;
    int64_t next_epoch_ = 0;
    bool started_ = false;
};

}  // namespace vitlab::dataset
