// ppm.cpp: reading and writing PGM/PPM by hand (see ppm.h for the format).
//
// The parser walks the bytes once with a cursor. Every read checks that the byte exists
// before touching it, and sizes are checked against the limits before any allocation, so a
// truncated or hostile file is an ImageError, never an out-of-bounds read.
#include "vision/ppm.h"

#include <fmt/format.h>

#include <cstdio>

#include "tensor/errors.h"
#include "tensor/io/output_file.h"

namespace vitlab {

namespace {

bool is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(uint8_t c) {
    return c >= '0' && c <= '9';
}

// "'a'" for a printable byte, "byte 0x07" otherwise.
std::string describe(uint8_t c) {
    if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
    return fmt::format("byte 0x{:02x}", c);
}

// A cursor over the file's bytes that knows the file's name and format for its errors.
class Cursor {
  public:
    Cursor(const uint8_t* data, size_t size, const std::string& name)
        : data_(data), size_(size), name_(name) {}

    size_t pos() const { return pos_; }
    size_t remaining() const { return size_ - pos_; }
    const uint8_t* here() const { return data_ + pos_; }
    void advance(size_t n) { pos_ += n; }
    void set_format(const char* format) { format_ = format; }

    [[noreturn]] void fail(const std::string& what) const {
        throw ImageError(fmt::format("{}: {}", name_, what));
    }
    [[noreturn]] void truncated(const std::string& what) const {
        fail(fmt::format("truncated {}: {}", format_, what));
    }

    // Whitespace and comments; a comment runs from '#' to the end of its line.
    void skip_space_and_comments() {
        while (pos_ < size_) {
            if (is_space(data_[pos_])) {
                ++pos_;
            } else if (data_[pos_] == '#') {
                while (pos_ < size_ && data_[pos_] != '\n' && data_[pos_] != '\r') ++pos_;
            } else {
                return;
            }
        }
    }

    // A comment and the single end-of-line byte that ends it (not the whitespace after it: in
    // a binary file that already belongs to the pixels).
    void skip_comment_line() {
        while (pos_ < size_ && data_[pos_] != '\n' && data_[pos_] != '\r') ++pos_;
        if (pos_ == size_) truncated("the file ends inside a comment");
        ++pos_;
    }

    // The next decimal number. `what` names it in errors ("the width", "sample 17"); a value
    // above `limit` is reported with `limit_note` (e.g. "the largest maxval is 65535").
    uint32_t number(const std::string& what, uint32_t limit, const char* limit_note) {
        skip_space_and_comments();
        if (pos_ >= size_) truncated(fmt::format("the file ends before {}", what));
        if (!is_digit(data_[pos_]))
            fail(fmt::format("bad {}: expected {} (a number) at byte {}, found {}", format_, what,
                             pos_, describe(data_[pos_])));
        const size_t start = pos_;
        uint64_t value = 0;
        while (pos_ < size_ && is_digit(data_[pos_])) {
            value = value * 10 + (data_[pos_] - '0');
            if (value > limit)
                fail(fmt::format("bad {}: {} at byte {} is too large ({})", format_, what, start,
                                 limit_note));
            ++pos_;
        }
        // "12x" is not a number followed by something: the token itself is malformed.
        if (pos_ < size_ && !is_space(data_[pos_]) && data_[pos_] != '#')
            fail(fmt::format("bad {}: expected {} (a number) at byte {}, found {} inside it",
                             format_, what, start, describe(data_[pos_])));
        return static_cast<uint32_t>(value);
    }

  private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    const std::string& name_;
    const char* format_ = "PPM";
};

// value in [0, maxval] -> [0, 255], rounding to nearest.
uint8_t to_8bit(uint32_t value, uint32_t maxval) {
    if (maxval == 255) return static_cast<uint8_t>(value);
    return static_cast<uint8_t>((value * 255 + maxval / 2) / maxval);
}

}  // namespace

bool looks_like_ppm(const uint8_t* data, size_t size) {
    return size >= 1 && data[0] == 'P' && (size == 1 || is_digit(data[1]));
}

Image decode_ppm(const uint8_t* data, size_t size, const std::string& name) {
    Cursor in(data, size, name);

    // ---- magic ---------------------------------------------------------------------------
    if (size == 0) in.fail("empty file");
    if (data[0] != 'P') in.fail("not a PPM/PGM file: it does not start with 'P'");
    if (size < 2) in.fail("truncated PPM/PGM: the file ends inside the magic number");
    const char kind = static_cast<char>(data[1]);
    if (kind == '1' || kind == '4')
        in.fail(fmt::format("PBM bitmaps (P{}) are not supported; convert to PGM or PPM", kind));
    if (kind == '7') in.fail("PAM files (P7) are not supported; convert to PGM or PPM");
    if (kind != '2' && kind != '3' && kind != '5' && kind != '6')
        in.fail(fmt::format("not a PPM/PGM file: bad magic 'P' {}; expected P2, P3, P5 or P6",
                            describe(data[1])));
    const bool text = kind == '2' || kind == '3';
    const int channels = (kind == '3' || kind == '6') ? 3 : 1;
    const char* format = channels == 3 ? "PPM" : "PGM";
    in.set_format(format);
    in.advance(2);
    if (in.remaining() > 0 && !is_space(*in.here()) && *in.here() != '#')
        in.fail(fmt::format("bad {}: magic P{} is followed by {}, not whitespace", format, kind,
                            describe(*in.here())));

    // ---- header: width height maxval -----------------------------------------------------
    const uint32_t kBig = 1000000000;  // parse limit; check_image_size gives the real limits
    const uint32_t width = in.number("the width", kBig, "far beyond the size limit");
    const uint32_t height = in.number("the height", kBig, "far beyond the size limit");
    check_image_size(name, width, height);
    const uint32_t maxval = in.number("maxval", 65535, "the largest maxval is 65535");
    if (maxval == 0) in.fail(fmt::format("bad {}: maxval is 0 (must be 1 to 65535)", format));

    Image image;
    image.width = static_cast<int>(width);
    image.height = static_cast<int>(height);
    image.channels = channels;
    const size_t count = static_cast<size_t>(width) * height * channels;

    // ---- text samples (P2, P3) -------------------------------------------------------------
    if (text) {
        // Each sample takes a digit and a separator: a file too short to hold them all is
        // rejected before the allocation.
        if (in.remaining() < 2 * count)
            in.truncated(fmt::format("{} samples need at least {} more bytes, the file has {}",
                                     count, 2 * count, in.remaining()));
        image.pixels.resize(count);
        for (size_t i = 0; i < count; ++i) {
            in.skip_space_and_comments();
            if (in.remaining() == 0)
                in.truncated(fmt::format("the file ends after {} of {} samples", i, count));
            const uint32_t v = in.number(fmt::format("sample {}", i), kBig, "above any maxval");
            if (v > maxval)
                in.fail(fmt::format("bad {} data: sample {} is {}, above maxval {}", format, i, v,
                                    maxval));
            image.pixels[i] = to_8bit(v, maxval);
        }
        return image;
    }

    // ---- binary samples (P5, P6): exactly one whitespace byte, then the raster -------------
    if (in.remaining() == 0) in.truncated("the file ends right after the header");
    if (*in.here() == '#') {
        in.skip_comment_line();  // a comment right after maxval: its end-of-line byte separates
    } else {
        in.advance(1);
    }
    const size_t bytes_per_sample = maxval > 255 ? 2 : 1;
    const size_t need = count * bytes_per_sample;
    if (in.remaining() < need)
        in.truncated(
            fmt::format("pixel data needs {} bytes after the header (byte {}), the "
                        "file has {}",
                        need, in.pos(), in.remaining()));
    image.pixels.resize(count);
    const uint8_t* p = in.here();
    for (size_t i = 0; i < count; ++i) {
        const uint32_t v = bytes_per_sample == 2 ? (uint32_t(p[2 * i]) << 8) | p[2 * i + 1] : p[i];
        if (v > maxval)
            in.fail(
                fmt::format("bad {} data: sample {} is {}, above maxval {}", format, i, v, maxval));
        image.pixels[i] = to_8bit(v, maxval);
    }
    return image;
}

Image read_ppm(const std::string& path) {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    return decode_ppm(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> encode_ppm(const Image& image) {
    if (image.channels != 1 && image.channels != 3)
        throw ImageError(fmt::format("encode_ppm: PPM/PGM hold 1 or 3 channels, the image has {}",
                                     image.channels));
    check_image_size("encode_ppm", image.width, image.height);
    const size_t count = static_cast<size_t>(image.width) * image.height * image.channels;
    if (image.pixels.size() != count)
        throw ImageError(fmt::format("encode_ppm: a {}x{}x{} image needs {} bytes, it has {}",
                                     image.width, image.height, image.channels, count,
                                     image.pixels.size()));
    const std::string header =
        fmt::format("P{}\n{} {}\n255\n", image.channels == 3 ? 6 : 5, image.width, image.height);
    std::vector<uint8_t> out(header.begin(), header.end());
    out.insert(out.end(), image.pixels.begin(), image.pixels.end());
    return out;
}

void write_ppm(const std::string& path, const Image& image) {
    const std::vector<uint8_t> bytes = encode_ppm(image);
    try {
        OutputFile file(path, {}, "");  // whole or not at all (tensor/io/output_file.h)
        file.write(bytes.data(), bytes.size());
        file.commit();
    } catch (const FileError& e) {
        throw ImageError(e.what());
    }
}

}  // namespace vitlab
