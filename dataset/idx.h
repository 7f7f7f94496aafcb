// idx.h: the IDX file format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//
// An IDX file is a big-endian header and then the raw values, row-major:
//   bytes 0-1  zero
//   byte  2    the value type (0x08 unsigned byte, the only one the image datasets use)
//   byte  3    the number of dims k (1 for labels, 3 for images)
//   k x 4 bytes  each size, big-endian uint32: (N) for labels, (N, 28, 28) for images
//   then prod(sizes) values
// A name ending in ".gz" (or any file starting with the gzip magic 1f 8b) is read through
// zlib. The header is checked before anything is allocated: bad magic, an unsupported type,
// 0 or more than 4 dims, a size of 0 or a total above 2^31 bytes, and a file shorter or
// longer than the header says all throw IdxError naming the file.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitlab::dataset {

struct IdxError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct IdxArray {
    std::vector<int64_t> shape;  // e.g. (N, 28, 28)
    std::vector<uint8_t> data;   // prod(shape) bytes, row-major
};

IdxArray read_idx(const std::string& path);

// The same format written out (plain, or gzip when path ends in ".gz"): for tests and tools.
void write_idx(const std::string& path, const std::vector<int64_t>& shape,
               const std::vector<uint8_t>& data);

}  // namespace vitlab::dataset
