// labels.h: the names of a classifier's outputs, one per line in a text file.
//
// data/imagenet_classes.txt holds the 1000 ImageNet-1k class names in index order (the list
// torchvision ships with its pretrained weights): logit 0 is "tench", logit 999 "toilet tissue".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vitlab {

// Limits that no list of class names comes near (ImageNet-21k's 21843 names take 0.3 MB, its
// longest name 200 bytes), so that /dev/zero or a binary file is refused quickly.
constexpr size_t kMaxLabelBytes = 4096;               // one line
constexpr size_t kMaxLabelsBytes = size_t(64) << 20;  // the file

// The lines of the file, without line endings ("\n" or "\r\n"); a final newline is optional.
// Throws FileError (tensor/errors.h) naming the file if it cannot be read, if a
// line is empty, too long or holds a zero byte, if the file is larger than kMaxLabelsBytes, or
// if it does not hold exactly `expected` names (pass 0 to accept any count). A FIFO without a
// writer reads as empty instead of blocking (tensor/io/input_file.h).
std::vector<std::string> load_labels(const std::string& path, size_t expected = 1000);

// Where the ImageNet names live in this source tree (VITLAB_SOURCE_DIR/data/imagenet_classes.txt).
std::string imagenet_labels_path();

}  // namespace vitlab
