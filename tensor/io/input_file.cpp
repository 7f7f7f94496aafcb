// input_file.cpp: see input_file.h.
#include "tensor/io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vitlab {

InputFile::InputFile(const std::string& path, Fail fail) : fail_(std::move(fail)) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) fail_(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        fail_(std::string("cannot open: ") + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        fail_("is a directory, not a file");
    }
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
    regular_ = S_ISREG(st.st_mode);
    size_ = regular_ ? static_cast<uint64_t>(st.st_size) : 0;
}

InputFile::~InputFile() {
    if (fd_ >= 0) ::close(fd_);
}

size_t InputFile::read(void* buffer, size_t n) {
    auto* p = static_cast<char*>(buffer);
    size_t got = 0;
    while (got < n) {
        const ssize_t r = ::read(fd_, p + got, std::min<size_t>(n - got, size_t(1) << 30));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail_(std::string("cannot read: ") + std::strerror(errno));
        if (r == 0) break;
        got += static_cast<size_t>(r);
    }
    return got;
}

size_t InputFile::read_into(std::string& out, size_t max) {
    size_t total = 0;
    constexpr size_t kChunk = size_t(1) << 20;
    while (total < max) {
        const size_t want = std::min(kChunk, max - total);
        const size_t old = out.size();
        out.resize(old + want);
        const size_t got = read(&out[old], want);
        out.resize(old + got);
        total += got;
        if (got < want) break;
    }
    return total;
}

}  // namespace vitlab
