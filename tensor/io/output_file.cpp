// output_file.cpp: see output_file.h. POSIX only (mkstemp, fsync, lstat, readlink), as is the
// mmap loading in safetensors.cpp.
#include "tensor/io/output_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "tensor/errors.h"

namespace vitlab {

namespace {

// The part of p before its last '/' ("." when there is none; "/" for "/x").
std::string directory_of(const std::string& p) {
    const size_t slash = p.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : p.substr(0, slash);
}

std::string base_of(const std::string& p) {
    const size_t slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

struct Resolved {
    std::string path;  // the path with every symbolic link followed
    bool exists = false;
    struct stat st {};  // of `path`, when it exists
};

// Follows symbolic links one at a time (a dangling link resolves to the path it names).
Resolved resolve(const std::string& path, const std::function<void(const std::string&)>& fail) {
    Resolved r;
    r.path = path;
    for (int hops = 0;; ++hops) {
        if (::lstat(r.path.c_str(), &r.st) != 0) {
            if (errno == ENOENT) return r;  // a new file
            fail(fmt::format("cannot look at '{}': {}", r.path, std::strerror(errno)));
        }
        if (!S_ISLNK(r.st.st_mode)) {
            r.exists = true;
            return r;
        }
        if (hops == 40) fail("too many levels of symbolic links");
        std::vector<char> link(4096);
        const ssize_t n = ::readlink(r.path.c_str(), link.data(), link.size());
        if (n < 0 || static_cast<size_t>(n) >= link.size())
            fail(fmt::format("cannot read the symbolic link '{}': {}", r.path,
                             n < 0 ? std::strerror(errno) : "target too long"));
        const std::string to(link.data(), static_cast<size_t>(n));
        r.path = to[0] == '/' || r.path.find('/') == std::string::npos
                     ? to
                     : directory_of(r.path) + "/" + to;
    }
}

}  // namespace

void check_not_an_input(const std::string& output, const std::vector<std::string>& inputs,
                        const std::string& op) {
    struct stat out {};
    if (::stat(output.c_str(), &out) != 0) return;
    for (const std::string& input : inputs) {
        struct stat in {};
        if (::stat(input.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
            throw FileError(fmt::format(
                "{}{}: is the same file as the input '{}'; writing it would destroy the input "
                "(choose another output file)",
                op.empty() ? "" : op + ": ", op.empty() ? output : "'" + output + "'", input));
    }
}

OutputFile::OutputFile(const std::string& path, const std::vector<std::string>& inputs,
                       const std::string& op)
    : path_(path), op_(op) {
    if (path.empty()) fail("the file name is empty");
    const Resolved r = resolve(path, [this](const std::string& what) { fail(what); });
    target_ = r.path;
    if (r.exists && !S_ISREG(r.st.st_mode))
        fail(fmt::format("{}{}; only regular files are written (write to a file and copy it)",
                         target_ == path_ ? "is " : fmt::format("links to '{}', ", target_),
                         kind_of(r.st.st_mode)));
    check_not_an_input(target_, inputs, op_);
    if (!r.exists && !path.empty() && path.back() == '/') fail("names a directory, not a file");

    buffer_.reserve(1 << 20);  // before the file exists: a throw here leaves nothing behind

    // In the target's directory so that rename() is atomic (same file system).
    temp_ = directory_of(target_) + "/." + base_of(target_) + ".vitlab-XXXXXX";
    std::vector<char> name(temp_.begin(), temp_.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) {
        const int err = errno;
        temp_.clear();  // nothing to remove
        fail(fmt::format("cannot create a file in '{}': {}", directory_of(target_),
                         std::strerror(err)));
    }
    temp_ = name.data();
    // mkstemp gives 0600; keep the replaced file's bits, or what a plain open would give.
    mode_t mode;
    if (r.exists) {
        mode = r.st.st_mode & 07777;
    } else {
        const mode_t mask = ::umask(0);  // reading the umask means setting it; put it back
        ::umask(mask);
        mode = 0666 & ~mask;
    }
    if (::fchmod(fd_, mode) != 0) {
        // The destructor does not run for a constructor that throws: clean up here.
        const int err = errno;
        ::close(fd_);
        ::unlink(temp_.c_str());
        fail(fmt::format("cannot set permissions: {}", std::strerror(err)));
    }
}

OutputFile::~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::fail(const std::string& what) {
    throw FileError(op_.empty() ? fmt::format("{}: {}", path_, what)
                                : fmt::format("{}: '{}': {}", op_, path_, what));
}

void OutputFile::flush_buffer() {
    const char* p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            fail(fmt::format("writing failed: {}", n < 0 ? std::strerror(errno) : "no progress"));
        p += n;
        left -= static_cast<size_t>(n);
    }
    buffer_.clear();
}

void OutputFile::write(const void* data, size_t size) {
    if (fd_ < 0) fail("write after commit");
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const size_t room = buffer_.capacity() - buffer_.size();
        const size_t n = std::min(room, size);
        buffer_.insert(buffer_.end(), p, p + n);
        p += n;
        size -= n;
        if (buffer_.size() == buffer_.capacity()) flush_buffer();
    }
}

void OutputFile::commit() {
    if (fd_ < 0) fail("commit called twice");
    flush_buffer();
    // fsync before rename: after a crash the target is either the old file or the whole new
    // one, never a renamed but empty file.
    if (::fsync(fd_) != 0) fail(fmt::format("writing failed: {}", std::strerror(errno)));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(fmt::format("writing failed: {}", std::strerror(errno)));
    if (std::rename(temp_.c_str(), target_.c_str()) != 0)
        fail(fmt::format("cannot replace '{}': {}", target_, std::strerror(errno)));
    committed_ = true;
    // The rename itself is durable once the directory is synced; a failure here loses nothing
    // that is written, so it is not an error.
    const int dir = ::open(directory_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

}  // namespace vitlab
