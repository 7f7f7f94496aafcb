// labels.h: the names of a classifier's outputs, one per line in a text file.
//
// data/imagenet_classes.txt holds the 1000 ImageNet-1k class names in index order (the list
// torchvision ships with its pretrained weights): logit 0 is "tench", logit 999 "toilet tissue".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vitlab {

// The lines of the file, without line endings ("\n" or "\r\n"); a final newline is optional.
// Throws FileError (from tensor/io/safetensors.h) naming the file if it cannot be read, if a
// line is empty, or if it does not hold exactly `expected` names (pass 0 to accept any count).
std::vector<std::string> load_labels(const std::string& path, size_t expected = 1000);

// Where the ImageNet names live in this source tree (VITLAB_SOURCE_DIR/data/imagenet_classes.txt).
std::string imagenet_labels_path();

}  // namespace vitlab
