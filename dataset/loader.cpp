#include "dataset/loader.h"

#include <fmt/format.h>

#include <numeric>
#include <stdexcept>

namespace vitlab::dataset {

Tensor Batch::targets() const {
    Tensor t(Shape{static_cast<int64_t>(labels.size())});
    for (size_t i = 0; i < labels.size(); ++i) t.data()[i] = static_cast<float>(labels[i]);
    return t;
}

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
    Generator mix(seed ^ (static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ull));
    return mix.next_u64();
}

int64_t uniform_int(Generator& gen, int64_t n) {
    if (n <= 0) throw std::invalid_argument(fmt::format("uniform_int: n = {} must be > 0", n));
    const uint64_t range = static_cast<uint64_t>(n);
    // Values at or above the largest multiple of range below 2^64 would favour small results.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t x;
    do {
        x = gen.next_u64();
    } while (x >= limit);
    return static_cast<int64_t>(x % range);
}

void random_crop_flip(const uint8_t* in, uint8_t* out, int64_t height, int64_t width,
                      int64_t padding, bool hflip, Generator& gen) {
    // Window top-left in the padded image is (dy, dx); pixel (y, x) of the window is pixel
    // (y + dy - padding, x + dx - padding) of the image, 0 outside it.
    const int64_t dy = padding > 0 ? uniform_int(gen, 2 * padding + 1) - padding : 0;
    const int64_t dx = padding > 0 ? uniform_int(gen, 2 * padding + 1) - padding : 0;
    const bool flip = hflip && gen.uniform() < 0.5f;
    for (int64_t y = 0; y < height; ++y) {
        const int64_t sy = y + dy;
        for (int64_t x = 0; x < width; ++x) {
            const int64_t sx = (flip ? width - 1 - x : x) + dx;
            const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
            out[y * width + x] = inside ? in[sy * width + sx] : 0;
        }
    }
}

DataLoader::DataLoader(const ImageDataset& data, LoaderOptions options)
    : data_(data), options_(options), gen_(options.seed) {
    if (options_.batch_size <= 0)
        throw std::invalid_argument(
            fmt::format("DataLoader: batch_size = {} must be > 0", options_.batch_size));
    if (options_.crop_padding < 0)
        throw std::invalid_argument(
            fmt::format("DataLoader: crop_padding = {} must be >= 0", options_.crop_padding));
    if (!(options_.std > 0.0f))
        throw std::invalid_argument(fmt::format("DataLoader: std = {} must be > 0", options_.std));
    if (data_.size() * data_.height * data_.width != static_cast<int64_t>(data_.pixels.size()))
        throw std::invalid_argument(
            fmt::format("DataLoader: the dataset has {} labels of {}x{} images but {} pixels",
                        data_.size(), data_.height, data_.width, data_.pixels.size()));
    order_.resize(static_cast<size_t>(data_.size()));
}

int64_t DataLoader::num_batches() const {
    const int64_t n = data_.size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::start_epoch(int64_t epoch) {
    if (epoch < 0)
        throw std::invalid_argument(fmt::format("DataLoader: epoch = {} must be >= 0", epoch));
    gen_ = Generator(epoch_seed(options_.seed, epoch));
    next_epoch_ = epoch + 1;
    std::iota(order_.begin(), order_.end(), int64_t(0));
    if (options_.shuffle)
        for (int64_t i = static_cast<int64_t>(order_.size()) - 1; i > 0; --i)
            std::swap(order_[i], order_[uniform_int(gen_, i + 1)]);
    position_ = 0;
    started_ = true;
}

bool DataLoader::next(Batch& batch) {
    if (!started_) throw std::logic_error("DataLoader::next: call start_epoch() first");
    const int64_t n = data_.size();
    const int64_t b = std::min(options_.batch_size, n - position_);
    if (b <= 0 || (options_.drop_last && b < options_.batch_size)) return false;

    const int64_t h = data_.height, w = data_.width, hw = h * w;
    if (batch.images.shape() != Shape{b, 1, h, w}) batch.images = Tensor(Shape{b, 1, h, w});
    batch.labels.resize(static_cast<size_t>(b));
    batch.indices.resize(static_cast<size_t>(b));
    // x = (p / 255 - mean) / std = p * scale + shift
    const float scale = 1.0f / (255.0f * options_.std);
    const float shift = -options_.mean / options_.std;
    const bool augment = options_.crop_padding > 0 || options_.hflip;
    std::vector<uint8_t> work(static_cast<size_t>(hw));
    float* out = batch.images.data();
    for (int64_t i = 0; i < b; ++i) {
        const int64_t item = order_[static_cast<size_t>(position_ + i)];
        const uint8_t* src = data_.pixels.data() + item * hw;
        if (augment) {
            random_crop_flip(src, work.data(), h, w, options_.crop_padding, options_.hflip, gen_);
            src = work.data();
        }
        for (int64_t p = 0; p < hw; ++p) out[i * hw + p] = src[p] * scale + shift;
        batch.labels[static_cast<size_t>(i)] = data_.labels[static_cast<size_t>(item)];
        batch.indices[static_cast<size_t>(i)] = item;
    }
    position_ += b;
    return true;
}

}  // namespace vitlab::dataset
