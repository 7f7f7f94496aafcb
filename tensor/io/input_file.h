// input_file.h: opening a file for reading so that no kind of file can hang or flood us.
//
//   InputFile in(path, [&](const std::string& why) { throw ImageError(path + ": " + why); });
//   uint8_t magic[16];
//   size_t n = in.read(magic, sizeof magic);   // fewer only at the end of the file
// - open() never blocks: a FIFO without a writer would block a plain open() forever, so the file
//   is opened with O_NONBLOCK, which is cleared at once (reads then wait for data as usual; a
//   FIFO whose writer is gone reads as an empty file).
// - directories are refused at open; devices, FIFOs and sockets are streams: regular() is false
//   and size() unknown, so the caller reads what it needs in steps (magic bytes first, then what
//   the header says) and never "the whole file" of /dev/zero.
// Every problem calls `fail` with the reason ("cannot open: No such file or directory", "is a
// directory, not a file", "cannot read: ..."); fail must throw, so the caller picks the
// exception type and the message prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace vitlab {

class InputFile {
  public:
    using Fail = std::function<void(const std::string& why)>;

    InputFile(const std::string& path, Fail fail);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    bool regular() const { return regular_; }
    uint64_t size() const { return size_; }  // of a regular file; 0 for a stream
    int fd() const { return fd_; }

    // Reads up to n bytes into buffer; returns fewer only at the end of the file.
    size_t read(void* buffer, size_t n);
    // Appends up to max bytes to out (stops at the end of the file); returns how many.
    size_t read_into(std::string& out, size_t max);

  private:
    int fd_ = -1;
    bool regular_ = false;
    uint64_t size_ = 0;
    Fail fail_;
};

}  // namespace vitlab
