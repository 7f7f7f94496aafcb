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
#include <string>
#include <vector>

#include "tensor/errors.h"  // FileError
#include "tensor/tensor.h"  // Tensor, TensorMap

namespace vitlab {

// What a file's header says about one tensor: how it is stored, before loading made it float32.
struct SafetensorsEntry {
    std::string name;
    std::string dtype;  // "F32", "F16" or "BF16"
    Shape shape;
};

// A file's header, every part of it checked: its tensors in the order of their data, and its
// "__metadata__" strings.
struct SafetensorsHeader {
    std::vector<SafetensorsEntry> tensors;
    std::map<std::string, std::string> metadata;
};

// F32 tensors alias one private (copy-on-write) mapping of the file: loading copies nothing and
// writing to a tensor never changes the file. VITLAB_NO_MMAP=1 reads into memory instead. A
// pipe or device (/dev/stdin) is read as a stream: exactly the bytes its header describes.
// header, when given, receives the header that was parsed (the file is read once).
TensorMap load_safetensors(const std::string& path, SafetensorsHeader* header = nullptr);
// The "__metadata__" strings of a file (empty when it has none); validates the whole header.
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);
// Writes through tensor/io/output_file.h: a temporary file renamed over path, so path is never
// half-written; a path that is a device, FIFO or directory is refused, a symbolic link followed.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Gives the memory of a loaded tensor that nobody will read again back to the operating system
// (madvise MADV_DONTNEED). Resident memory counts every page of the mapped file that has been
// touched: a loader that copies tensors into a new one (a checkpoint stacking q, k and v into
// qkv) would otherwise keep their file pages resident beside the copy. Only whole pages inside
// the tensor are released, so its neighbours are never affected; afterwards t's values are
// undefined (a page of the file mapping is read again from the file if touched, one of heap
// memory reads as zeros).
void release_pages(const Tensor& t);

// For programs: a file that another program truncates while load_safetensors has it mapped
// raises SIGBUS when a lost page is touched. After this call that prints one line on stderr,
// "<program>: '<path>': the file changed while it was in use ...", and exits with status 2
// instead of dying with "Bus error". SIGBUS outside such a mapping keeps its default action.
// Installs a process-wide signal handler, so a library never calls it by itself.
void install_truncation_handler(const char* program);

}  // namespace vitlab
