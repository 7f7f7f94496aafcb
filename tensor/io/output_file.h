// output_file.h: writing a file so that a failure or a surprising target never destroys data.
//
//   OutputFile out("logits.safetensors", {"weights.safetensors", "input.safetensors"});
//   out.write(bytes, n);   // as often as needed; throws FileError on any failure
//   out.commit();          // flush, fsync, rename over the target
// What it guarantees (every problem throws FileError naming the path and the reason):
//   - the target never holds a half-written file: the bytes go to a temporary file made with
//     mkstemp in the target's own directory (so rename is atomic), which is fsync'd and then
//     renamed over the target. Until commit() succeeds the target is untouched, and the
//     temporary file is removed on every failure path (an exception, a failed write, a
//     destructor run without commit()).
//   - an existing target that is not a regular file (a device such as /dev/null or /dev/full,
//     a FIFO, a socket, a directory) is refused. We chose refusing over writing through: a write
//     through cannot be atomic, a FIFO without a reader would block, and renaming over a device
//     node (what the old code did) replaces the device itself. Write to a file and copy it.
//   - a symbolic link is followed, never replaced: the file it points to (after every link in
//     the chain) gets the new contents and the link stays a link. A dangling link creates the
//     file it names, as the shell's `>` does.
//   - a target that is the same file as one of `inputs` (same device and inode, so hard links
//     and different spellings of one path count too) is refused before anything is written.
//   - the new file keeps the permission bits of the file it replaces; a new file gets
//     0666 minus the umask, as std::ofstream would give it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vitlab {

class OutputFile {
  public:
    // Checks the target and creates the temporary file; `op` starts every message
    // ("save_safetensors: 'out.safetensors': ..."; with op "": "out.png: ...").
    OutputFile(const std::string& path, const std::vector<std::string>& inputs = {},
               const std::string& op = "write");
    ~OutputFile();  // removes the temporary file unless commit() succeeded
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    void write(const void* data, size_t size);
    // Writes what is buffered, fsyncs, closes and renames over the target. Once only.
    void commit();

    // The file that will be replaced or created (the path with its symbolic links resolved).
    const std::string& target() const { return target_; }

  private:
    std::string path_, op_, target_, temp_;
    int fd_ = -1;
    bool committed_ = false;
    std::vector<char> buffer_;

    void flush_buffer();
    [[noreturn]] void fail(const std::string& what);
};

// Throws FileError when `output` names the same file as one of `inputs` (device and inode, after
// following symbolic links). Inputs that do not exist are ignored; so is an output that does not.
void check_not_an_input(const std::string& output, const std::vector<std::string>& inputs,
                        const std::string& op = "write");

}  // namespace vitlab
