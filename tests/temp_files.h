// temp_files.h: scratch files for tests that write and corrupt files (safetensors, checkpoints,
// the vit command): a temporary directory removed at the end, and whole-file read/write.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace vitlab::testing {

// A fresh directory under the system temp dir, removed with everything in it at the end.
struct TempDir {
    std::filesystem::path dir;
    explicit TempDir(const std::string& prefix = "vitlab_test_") {
        std::random_device rd;
        dir = std::filesystem::temp_directory_path() /
              (prefix + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path(const std::string& name) const { return (dir / name).string(); }
};

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A new file rather than a truncated one: ext4 flushes a file to disk when it is truncated and
// rewritten (auto_da_alloc), which made the corruption sweeps 50 times slower.
inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

}  // namespace vitlab::testing
