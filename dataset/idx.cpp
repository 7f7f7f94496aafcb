// idx.cpp: reads IDX files through zlib's gzread, which reads plain files unchanged, so one
// path serves both. The values are read in chunks so a header that claims more than the file
// holds fails at the end of the file instead of allocating the claimed size first.
#include "dataset/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <memory>

namespace vitlab::dataset {

namespace {

constexpr int64_t kMaxDims = 4;
constexpr int64_t kMaxBytes = int64_t(1) << 31;
constexpr size_t kChunk = 1 << 20;

struct GzCloser {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to n bytes; returns how many (fewer only at the end of the file).
size_t read_some(gzFile f, uint8_t* out, size_t n, const std::string& path) {
    size_t done = 0;
    while (done < n) {
        unsigned want = static_cast<unsigned>(std::min(n - done, kChunk));
        int got = gzread(f, out + done, want);
        if (got < 0) {
            int err = 0;
            const char* msg = gzerror(f, &err);
            throw IdxError(fmt::format("read_idx: {}: corrupt compressed data ({})", path,
                                       msg ? msg : "zlib error"));
        }
        if (got == 0) break;
        done += static_cast<size_t>(got);
    }
    return done;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
    GzFile f(gzopen(path.c_str(), "rb"));
    if (!f) throw IdxError(fmt::format("read_idx: cannot open {}", path));

    uint8_t magic[4];
    if (read_some(f.get(), magic, 4, path) != 4)
        throw IdxError(fmt::format("read_idx: {}: too short for an IDX header (4 bytes)", path));
    if (magic[0] != 0 || magic[1] != 0)
        throw IdxError(fmt::format(
            "read_idx: {}: not an IDX file (magic {:02x} {:02x} {:02x} {:02x}, expected 00 00 "
            "<type> <dims>)",
            path, magic[0], magic[1], magic[2], magic[3]));
    if (magic[2] != 0x08)
        throw IdxError(fmt::format(
            "read_idx: {}: value type 0x{:02x} is not supported (expected 0x08, unsigned byte)",
            path, magic[2]));
    const int64_t ndim = magic[3];
    if (ndim < 1 || ndim > kMaxDims)
        throw IdxError(
            fmt::format("read_idx: {}: {} dims (expected 1 to {})", path, ndim, kMaxDims));

    IdxArray out;
    uint8_t sizes[4 * kMaxDims];
    if (read_some(f.get(), sizes, size_t(4 * ndim), path) != size_t(4 * ndim))
        throw IdxError(
            fmt::format("read_idx: {}: truncated header ({} sizes expected)", path, ndim));
    int64_t total = 1;
    for (int64_t d = 0; d < ndim; ++d) {
        const uint8_t* b = sizes + 4 * d;
        int64_t n = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3];
        if (n == 0) throw IdxError(fmt::format("read_idx: {}: size {} of dim {} is 0", path, n, d));
        total *= n;  // each n < 2^32 and total stays < 2^31 before it: no overflow
        if (total > kMaxBytes)
            throw IdxError(
                fmt::format("read_idx: {}: the sizes give more than {} values", path, kMaxBytes));
        out.shape.push_back(n);
    }

    while (int64_t(out.data.size()) < total) {
        size_t have = out.data.size();
        size_t want = std::min(size_t(total) - have, kChunk);
        out.data.resize(have + want);
        size_t got = read_some(f.get(), out.data.data() + have, want, path);
        if (got < want)
            throw IdxError(
                fmt::format("read_idx: {}: truncated: the header says {} values, the file holds {}",
                            path, total, have + got));
    }
    uint8_t extra;
    if (read_some(f.get(), &extra, 1, path) != 0)
        throw IdxError(fmt::format(
            "read_idx: {}: longer than the header says ({} values, then more bytes)", path, total));
    return out;
}

void write_idx(const std::string& path, const std::vector<int64_t>& shape,
               const std::vector<uint8_t>& data) {
    if (shape.empty() || int64_t(shape.size()) > kMaxDims)
        throw IdxError(
            fmt::format("write_idx: {}: {} dims (expected 1 to {})", path, shape.size(), kMaxDims));
    int64_t total = 1;
    for (int64_t n : shape) {
        if (n <= 0 || n > 0xffffffffLL)
            throw IdxError(fmt::format("write_idx: {}: size {} out of range", path, n));
        total *= n;
    }
    if (total != int64_t(data.size()))
        throw IdxError(fmt::format("write_idx: {}: shape holds {} values, data has {}", path, total,
                                   data.size()));
    std::vector<uint8_t> bytes = {0, 0, 0x08, uint8_t(shape.size())};
    for (int64_t n : shape)
        for (int s = 24; s >= 0; s -= 8) bytes.push_back(uint8_t((n >> s) & 0xff));
    bytes.insert(bytes.end(), data.begin(), data.end());

    const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    // "wbT" writes without compression (zlib's transparent mode).
    GzFile f(gzopen(path.c_str(), gz ? "wb" : "wbT"));
    if (!f) throw IdxError(fmt::format("write_idx: cannot create {}", path));
    size_t done = 0;
    while (done < bytes.size()) {
        unsigned n = static_cast<unsigned>(std::min(bytes.size() - done, kChunk));
        if (gzwrite(f.get(), bytes.data() + done, n) != int(n))
            throw IdxError(fmt::format("write_idx: cannot write {}", path));
        done += n;
    }
    if (gzclose(f.release()) != Z_OK)
        throw IdxError(fmt::format("write_idx: cannot write {}", path));
}

}  // namespace vitlab::dataset
