// labels.cpp: reading class names (see labels.h).
#include "vision/labels.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "tensor/errors.h"
#include "tensor/io/input_file.h"

#ifndef VITLAB_SOURCE_DIR
#define VITLAB_SOURCE_DIR "."
#endif

namespace vitlab {

std::vector<std::string> load_labels(const std::string& path, size_t expected) {
    const auto fail = [&path](const std::string& why) {
        throw FileError(fmt::format("{}: {}", path, why));
    };
    InputFile in(path, [&](const std::string& why) {
        fail(fmt::format("cannot read the class names: {}", why));
    });
    // Read in pieces and checked as it goes, so /dev/zero or a binary file given by mistake is
    // refused after one over-long line instead of growing a string without end.
    std::vector<std::string> labels;
    std::string line, chunk;
    const auto end_line = [&] {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t number = labels.size() + 1;
        if (line.empty())
            fail(fmt::format("line {} is empty; expected one class name per line", number));
        if (line.find('\0') != std::string::npos)
            fail(fmt::format("line {} holds a zero byte; expected text, one class name per line",
                             number));
        labels.push_back(std::move(line));
        line.clear();
        if (expected != 0 && labels.size() > expected)
            fail(fmt::format("has more than {} class names, expected {}", expected, expected));
    };
    size_t total = 0;
    for (bool at_end = false; !at_end;) {
        chunk.clear();
        at_end = in.read_into(chunk, 1 << 16) < (1 << 16);
        total += chunk.size();
        if (total > kMaxLabelsBytes)
            fail(fmt::format("is larger than {} bytes; expected one class name per line",
                             kMaxLabelsBytes));
        for (const char c : chunk) {
            if (c == '\n') {
                end_line();
                continue;
            }
            line += c;
            if (line.size() > kMaxLabelBytes)
                fail(
                    fmt::format("line {} is longer than {} bytes; expected one class name per "
                                "line",
                                labels.size() + 1, kMaxLabelBytes));
        }
    }
    if (!line.empty()) end_line();  // the last line needs no newline
    if (expected != 0 && labels.size() != expected)
        fail(fmt::format("has {} class names, expected {}", labels.size(), expected));
    return labels;
}

std::string imagenet_labels_path() {
    return std::string(VITLAB_SOURCE_DIR) + "/data/imagenet_classes.txt";
}

}  // namespace vitlab
