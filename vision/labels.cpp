// labels.cpp: reading class names (see labels.h).
#include "vision/labels.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "tensor/io/safetensors.h"

#ifndef VITLAB_SOURCE_DIR
#define VITLAB_SOURCE_DIR "."
#endif

namespace vitlab {

std::vector<std::string> load_labels(const std::string& path, size_t expected) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw FileError(
            fmt::format("{}: cannot open the class names: {}", path, std::strerror(errno)));
    std::vector<std::string> labels;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty())
            throw FileError(fmt::format("{}: line {} is empty; expected one class name per line",
                                        path, labels.size() + 1));
        labels.push_back(line);
    }
    if (in.bad()) throw FileError(fmt::format("{}: read error", path));
    if (expected != 0 && labels.size() != expected)
        throw FileError(
            fmt::format("{}: has {} class names, expected {}", path, labels.size(), expected));
    return labels;
}

std::string imagenet_labels_path() {
    return std::string(VITLAB_SOURCE_DIR) + "/data/imagenet_classes.txt";
}

}  // namespace vitlab
