#include "dataset/fashion_mnist.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

#include "dataset/idx.h"

namespace vitlab::dataset {

const std::array<const char*, 10>& fashion_mnist_classes() {
    static const std::array<const char*, 10> names = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

std::string fashion_mnist_dir() {
    const char* env = std::getenv("FASHION_MNIST_DIR");
    return env != nullptr && env[0] != '\0' ? env : kFashionMnistDir;
}

ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path,
                             int64_t num_classes) {
    IdxArray images = read_idx(images_path);
    IdxArray labels = read_idx(labels_path);
    if (images.shape.size() != 3)
        throw std::runtime_error(
            fmt::format("{}: images must have 3 dims (N, H, W), the file has {}", images_path,
                        images.shape.size()));
    if (labels.shape.size() != 1)
        throw std::runtime_error(fmt::format("{}: labels must have 1 dim (N), the file has {}",
                                             labels_path, labels.shape.size()));
    if (images.shape[0] != labels.shape[0])
        throw std::runtime_error(fmt::format("{} holds {} images but {} holds {} labels",
                                             images_path, images.shape[0], labels_path,
                                             labels.shape[0]));
    ImageDataset out;
    out.height = images.shape[1];
    out.width = images.shape[2];
    out.num_classes = num_classes;
    out.pixels = std::move(images.data);
    out.labels.reserve(labels.data.size());
    for (size_t i = 0; i < labels.data.size(); ++i) {
        if (labels.data[i] >= num_classes)
            throw std::runtime_error(fmt::format("{}: label {} of item {} is not in [0, {})",
                                                 labels_path, labels.data[i], i, num_classes));
        out.labels.push_back(labels.data[i]);
    }
    return out;
}

namespace {

// dir/name.gz, or dir/name when only the uncompressed file is there.
std::string find_file(const std::string& dir, const std::string& name) {
    namespace fs = std::filesystem;
    for (const std::string& candidate : {name + ".gz", name}) {
        fs::path p = fs::path(dir) / candidate;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p.string();
    }
    throw DatasetNotFound(
        fmt::format("Fashion-MNIST not found: no {}.gz in {} (install it with: apt-get install "
                    "dataset-fashion-mnist)",
                    name, dir));
}

}  // namespace

ImageDataset load_fashion_mnist(Split split, const std::string& dir) {
    const std::string prefix = split == Split::Train ? "train" : "t10k";
    std::string images = find_file(dir, prefix + "-images-idx3-ubyte");
    std::string labels = find_file(dir, prefix + "-labels-idx1-ubyte");
    ImageDataset out = load_idx_images(images, labels, 10);
    if (out.height != 28 || out.width != 28)
        throw std::runtime_error(
            fmt::format("{}: Fashion-MNIST images are 28x28, the file has {}x{}", images,
                        out.height, out.width));
    return out;
}

}  // namespace vitlab::dataset
