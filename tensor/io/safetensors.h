// safetensors.h: reading and writing .safetensors files, the format of PyTorch/Hugging Face.
//
// Layout: 8 bytes little-endian u64 N, then N bytes of JSON header, then raw data.
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// offsets are relative to the start of the data section. F32, F16 and BF16 are read into
// float32; files are written as F32. Every problem throws FileError naming the file, the
// tensor and what is wrong.
#pragma once

#include <map>
#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

namespace vitlab {

struct FileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using TensorMap = std::map<std::string, Tensor>;

TensorMap load_safetensors(const std::string& path);
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace vitlab
