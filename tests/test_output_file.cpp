// test_output_file.cpp: writing files that cannot destroy data (tensor/io/output_file.h), through
// save_safetensors, write_png and write_ppm; and reading files that cannot hang or flood us
// (tensor/io/input_file.h): FIFOs, /dev/zero, a checkpoint truncated while it is mapped.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tensor/io/output_file.h"
#include "tensor/io/safetensors.h"
#include "tensor/ops.h"
#include "tests/temp_files.h"
#include "vision/image.h"
#include "vision/labels.h"
#include "vision/png_write.h"
#include "vision/ppm.h"

using namespace vitlab;
using vitlab::testing::read_bytes;
using vitlab::testing::write_bytes;
namespace fs = std::filesystem;

namespace {

struct TempDir : vitlab::testing::TempDir {
    TempDir() : vitlab::testing::TempDir("vitlab_test_output_file_") {}
};

doctest::Contains contains(const std::string& s) {
    return doctest::Contains(s.c_str());
}

TensorMap small() {
    return {{"w", full({2, 3}, 1.5f)}};
}

// The names in a directory: a temporary file left behind shows up here.
std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

mode_t mode_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode;
}

// Writes beyond `bytes` fail with EFBIG, as on a full disk, while it lives (SIGXFSZ ignored so
// the failing write returns an error instead of killing the test run).
struct FileSizeLimit {
    rlimit saved{};
    void (*saved_handler)(int);
    explicit FileSizeLimit(rlim_t bytes) {
        saved_handler = std::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &saved);
        rlimit limit = saved;
        limit.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, saved_handler);
    }
};

}  // namespace

// ---- writing -----------------------------------------------------------------------------------

TEST_CASE("output file: replaces a regular file whole, keeps its mode, leaves no temporary") {
    TempDir tmp;
    const std::string p = tmp.path("y.safetensors");
    write_bytes(p, "old contents");
    REQUIRE(::chmod(p.c_str(), 0640) == 0);
    save_safetensors(p, small());
    CHECK(load_safetensors(p).at("w").to_vector() == std::vector<float>(6, 1.5f));
    CHECK((mode_of(p) & 07777) == 0640);
    CHECK(names_in(tmp.dir) == std::vector<std::string>{"y.safetensors"});
    // A new file gets 0666 minus the umask, not mkstemp's 0600.
    const mode_t mask = ::umask(022);
    save_safetensors(tmp.path("new.safetensors"), small());
    ::umask(mask);
    CHECK((mode_of(tmp.path("new.safetensors")) & 07777) == 0644);
}

TEST_CASE("output file: a device, a FIFO or a directory is refused and stays what it was") {
    TempDir tmp;
    const std::string fifo = tmp.path("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(save_safetensors(fifo, small()),
                         doctest::Contains("fifo': is a FIFO (named pipe); only regular files"),
                         FileError);
    CHECK(S_ISFIFO(mode_of(fifo)));
    CHECK_THROWS_WITH_AS(write_png(fifo, Image{2, 2, 3, std::vector<uint8_t>(12, 7)}),
                         doctest::Contains("is a FIFO"), ImageError);
    CHECK(S_ISFIFO(mode_of(fifo)));
    CHECK_THROWS_WITH_AS(save_safetensors(tmp.dir.string(), small()),
                         doctest::Contains("is a directory"), FileError);
    // A character device like /dev/null (1, 3), made here rather than risking the real one;
    // only root may make one.
    const std::string device = tmp.path("null");
    if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        CHECK_THROWS_WITH_AS(save_safetensors(device, small()),
                             doctest::Contains("is a character device"), FileError);
        CHECK(S_ISCHR(mode_of(device)));
    }
    // A link to a device is followed to it, and refused there.
    const std::string link = tmp.path("link_to_fifo");
    REQUIRE(::symlink(fifo.c_str(), link.c_str()) == 0);
    CHECK_THROWS_WITH_AS(save_safetensors(link, small()),
                         contains("links to '" + fifo + "', a FIFO"), FileError);
    CHECK(S_ISLNK(mode_of(link)));
    CHECK(S_ISFIFO(mode_of(fifo)));
}

TEST_CASE("output file: a symbolic link is followed, never replaced") {
    TempDir tmp;
    fs::create_directories(tmp.dir / "real");
    const std::string target = tmp.path("real/y.safetensors");
    write_bytes(target, "old");
    // An absolute link, a relative one, and a link to a link.
    const std::string abs_link = tmp.path("abs"), rel_link = tmp.path("rel"),
                      chain = tmp.path("chain");
    REQUIRE(::symlink(target.c_str(), abs_link.c_str()) == 0);
    REQUIRE(::symlink("real/y.safetensors", rel_link.c_str()) == 0);
    REQUIRE(::symlink("rel", chain.c_str()) == 0);
    float value = 1.0f;
    for (const std::string& link : {abs_link, rel_link, chain}) {
        CAPTURE(link);
        value += 1.0f;
        save_safetensors(link, {{"w", full({2}, value)}});
        CHECK(S_ISLNK(mode_of(link)));
        CHECK(load_safetensors(target).at("w").to_vector() == std::vector<float>{value, value});
    }
    CHECK(names_in(tmp.dir / "real") == std::vector<std::string>{"y.safetensors"});
    // A dangling link creates the file it names, as the shell's '>' does.
    const std::string dangling = tmp.path("dangling");
    REQUIRE(::symlink("real/made.safetensors", dangling.c_str()) == 0);
    save_safetensors(dangling, small());
    CHECK(S_ISLNK(mode_of(dangling)));
    CHECK(fs::is_regular_file(tmp.dir / "real" / "made.safetensors"));
}

TEST_CASE("output file: the same file as an input is refused, whatever the name") {
    TempDir tmp;
    const std::string in = tmp.path("in.safetensors");
    save_safetensors(in, small());
    const std::string before = read_bytes(in);
    const std::string hard = tmp.path("hard"), soft = tmp.path("soft");
    REQUIRE(::link(in.c_str(), hard.c_str()) == 0);
    REQUIRE(::symlink(in.c_str(), soft.c_str()) == 0);
    for (const std::string& out : {in, hard, soft, tmp.dir.string() + "/./in.safetensors"}) {
        CAPTURE(out);
        CHECK_THROWS_WITH_AS(check_not_an_input(out, {"/nonexistent", in}),
                             contains("is the same file as the input '" + in + "'"), FileError);
        CHECK_THROWS_WITH_AS(OutputFile(out, {in}), doctest::Contains("is the same file"),
                             FileError);
    }
    CHECK(read_bytes(in) == before);
    CHECK_NOTHROW(check_not_an_input(tmp.path("other"), {in}));
    CHECK(names_in(tmp.dir) == std::vector<std::string>{"hard", "in.safetensors", "soft"});
}

TEST_CASE("output file: on every failure the target is untouched and no temporary is left") {
    TempDir tmp;
    const std::string p = tmp.path("y.safetensors");
    write_bytes(p, "precious");
    {
        OutputFile out(p);
        out.write("half", 4);
    }  // destroyed without commit(): an exception on the way, say
    CHECK(read_bytes(p) == "precious");
    CHECK(names_in(tmp.dir) == std::vector<std::string>{"y.safetensors"});

    // A full disk, simulated with a file size limit: the write, or the fsync, fails.
    {
        FileSizeLimit limit(1000);
        CHECK_THROWS_WITH_AS(save_safetensors(p, {{"w", zeros({100000})}}),
                             doctest::Contains("writing failed: File too large"), FileError);
        Image noise{64, 64, 3, {}};  // random bytes: the PNG cannot compress them below 1000
        std::mt19937 rng(7);
        for (int i = 0; i < 64 * 64 * 3; ++i) noise.pixels.push_back(uint8_t(rng() & 0xFF));
        CHECK_THROWS_WITH_AS(write_png(tmp.path("big.png"), noise),
                             doctest::Contains("writing failed"), ImageError);
        CHECK_THROWS_WITH_AS(write_ppm(tmp.path("big.ppm"), noise),
                             doctest::Contains("writing failed"), ImageError);
    }
    CHECK(read_bytes(p) == "precious");
    CHECK(names_in(tmp.dir) == std::vector<std::string>{"y.safetensors"});
}

// ---- reading -----------------------------------------------------------------------------------

TEST_CASE("input file: a FIFO without a writer is read as empty instead of blocking forever") {
    TempDir tmp;
    const std::string fifo = tmp.path("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(load_safetensors(fifo),
                         doctest::Contains("file is 0 bytes, too short for the 8-byte header"),
                         FileError);
    CHECK_THROWS_WITH_AS(read_image(fifo), doctest::Contains("fifo: empty file"), ImageError);
    CHECK_THROWS_WITH_AS(load_labels(fifo, 10), doctest::Contains("has 0 class names, expected 10"),
                         FileError);
}

TEST_CASE("input file: a checkpoint through a pipe is read, exactly what its header describes") {
    TempDir tmp;
    const std::string file = tmp.path("w.safetensors");
    save_safetensors(file, {{"a", full({3}, 2.0f)}, {"b", full({2, 2}, -1.0f)}});
    const std::string bytes = read_bytes(file);
    REQUIRE(bytes.size() < 4096);  // fits in a pipe's buffer: no writer process needed
    // The bytes go into a pipe whose write end is then closed; /dev/fd/N opens its read end
    // by name, as a shell's <(cat w.safetensors) would.
    const auto through_pipe = [&](const std::string& data) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        REQUIRE(::write(fds[1], data.data(), data.size()) == static_cast<ssize_t>(data.size()));
        ::close(fds[1]);
        TensorMap m;
        std::string error;
        try {
            m = load_safetensors("/dev/fd/" + std::to_string(fds[0]));
        } catch (const FileError& e) {
            error = e.what();
        }
        ::close(fds[0]);
        return std::pair{m, error};
    };
    if (!fs::exists("/dev/fd")) return;
    auto [m, error] = through_pipe(bytes);
    CHECK(error.empty());
    REQUIRE(m.size() == 2);
    CHECK(m.at("a").to_vector() == std::vector<float>{2, 2, 2});
    CHECK(m.at("b").to_vector() == std::vector<float>{-1, -1, -1, -1});
    CHECK(through_pipe(bytes.substr(0, bytes.size() - 3)).second.find("the stream ended after") !=
          std::string::npos);
    CHECK(through_pipe(bytes + "xyz").second.find("more bytes follow the last tensor") !=
          std::string::npos);
}

TEST_CASE("input file: /dev/zero is refused after its first bytes, as weights, image or labels") {
    if (!fs::exists("/dev/zero")) return;
    CHECK_THROWS_WITH_AS(load_safetensors("/dev/zero"), doctest::Contains("header length is 0"),
                         FileError);
    CHECK_THROWS_WITH_AS(read_image("/dev/zero"),
                         doctest::Contains("unknown image format (first bytes 00 00"), ImageError);
    CHECK_THROWS_WITH_AS(load_labels("/dev/zero", 10),
                         doctest::Contains("line 1 is longer than 4096 bytes"), FileError);
}

TEST_CASE("labels: limits on a line, on zero bytes and on more names than expected") {
    TempDir tmp;
    const std::string p = tmp.path("labels.txt");
    write_bytes(p, "a\nb\nc\n");
    CHECK_THROWS_WITH_AS(load_labels(p, 2), doctest::Contains("has more than 2 class names"),
                         FileError);
    write_bytes(p, std::string("a\nb\0x\n", 6));
    CHECK_THROWS_WITH_AS(load_labels(p, 2), doctest::Contains("line 2 holds a zero byte"),
                         FileError);
    write_bytes(p, "a\r\nb");  // CRLF and no final newline are fine
    CHECK(load_labels(p, 2) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("safetensors: a file truncated while mapped exits 2 naming it, not with SIGBUS") {
    TempDir tmp;
    const std::string p = tmp.path("w.safetensors");
    save_safetensors(p, {{"w", full({1 << 16}, 3.0f)}});  // 256 KB: many pages
    const Tensor w = load_safetensors(p).at("w");         // mapped; the data not touched yet
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    if (child == 0) {  // only system calls and the handler from here on
        ::dup2(pipe_fds[1], 2);
        install_truncation_handler("vit");
        if (::truncate(p.c_str(), 8) != 0) ::_exit(10);
        volatile float sum = 0.0f;
        for (int64_t i = 0; i < w.numel(); i += 1024) sum = sum + w.data()[i];
        ::_exit(0);  // not reached: the first lost page raises SIGBUS
    }
    ::close(pipe_fds[1]);
    std::string message;
    char buffer[512];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
        message.append(buffer, static_cast<size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CAPTURE(message);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 2);
    CHECK(message == "vit: '" + p +
                         "': the file changed while it was in use (another program truncated it "
                         "or rewrote it in place); run again on a complete file\n");
}
