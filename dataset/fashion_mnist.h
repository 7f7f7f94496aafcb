// fashion_mnist.h: the Fashion-MNIST dataset (Xiao, Rasul & Vollgraf 2017), as torchvision's
// datasets.FashionMNIST: 60,000 training and 10,000 test images, 28x28 grey, 10 classes.
//
// Debian's dataset-fashion-mnist package installs the four IDX files in
// /usr/share/datasets/fashion-mnist/:
//   train-images-idx3-ubyte.gz (60000, 28, 28)   train-labels-idx1-ubyte.gz (60000)
//   t10k-images-idx3-ubyte.gz  (10000, 28, 28)   t10k-labels-idx1-ubyte.gz  (10000)
// Uncompressed files with the same names (without ".gz") are read too.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitlab::dataset {

// The dataset is not where it was looked for; the message says how to install it.
struct DatasetNotFound : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Grey images as bytes with their class: image i is pixels[i*H*W, (i+1)*H*W), row-major.
struct ImageDataset {
    int64_t height = 0, width = 0;
    std::vector<uint8_t> pixels;  // (N, H, W)
    std::vector<int64_t> labels;  // (N), each in [0, num_classes)
    int64_t num_classes = 0;
    int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

enum class Split { Train, Test };

inline const char* const kFashionMnistDir = "/usr/share/datasets/fashion-mnist/";
// Where to look by default: $FASHION_MNIST_DIR when it is set and not empty (the same variable
// `make run` / tools/deps.sh check), else kFashionMnistDir.
std::string fashion_mnist_dir();

// The class names in label order: "T-shirt/top", "Trouser", ..., "Ankle boot".
const std::array<const char*, 10>& fashion_mnist_classes();

// Mean and std of the training pixels in [0, 1] (the usual normalisation constants).
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;

// Reads one split from dir. A missing file throws DatasetNotFound (a one-line message naming
// the file and `apt-get install dataset-fashion-mnist`); a malformed one throws IdxError;
// images and labels that disagree (count, a label >= 10, images not 28x28) throw
// std::runtime_error naming both files.
ImageDataset load_fashion_mnist(Split split, const std::string& dir = fashion_mnist_dir());

// Images and labels from any pair of IDX files: images (N, H, W), labels (N) in
// [0, num_classes).
ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path,
                             int64_t num_classes);

}  // namespace vitlab::dataset
