// image.cpp: size limits, reading a file's bytes, choosing a decoder, and to_tensor.
#include "vision/image.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tensor/io/input_file.h"
#include "vision/png_jpeg.h"
#include "vision/ppm.h"

namespace vitlab {

void check_image_size(const std::string& name, int64_t width, int64_t height) {
    if (width <= 0 || height <= 0)
        throw ImageError(
            fmt::format("{}: bad image size {}x{}: width and height must be at "
                        "least 1",
                        name, width, height));
    if (width > kMaxImageSide || height > kMaxImageSide)
        throw ImageError(
            fmt::format("{}: image size {}x{} is too large: each side must be at "
                        "most {}",
                        name, width, height, kMaxImageSide));
    if (width * height > kMaxImagePixels)
        throw ImageError(
            fmt::format("{}: image size {}x{} is too large: {} pixels, the limit is "
                        "{}",
                        name, width, height, width * height, kMaxImagePixels));
}

Tensor to_tensor(const Image& image) {
    const int64_t H = image.height, W = image.width, C = image.channels;
    if (H < 0 || W < 0 || C < 1 || C > 4)
        throw ShapeError(
            fmt::format("to_tensor: bad image {}x{} with {} channels (1 to 4)", W, H, C));
    if (image.pixels.size() != static_cast<size_t>(H * W * C))
        throw ShapeError(fmt::format("to_tensor: a {}x{}x{} image needs {} bytes, it has {}", W, H,
                                     C, H * W * C, image.pixels.size()));
    // (H, W, C) bytes -> (3, H, W) floats. Gray (C = 1 or 2) feeds all three planes from
    // channel 0; a trailing alpha channel (C = 2 or 4) is never read.
    Tensor out(Shape{3, H, W});
    float* o = out.data();
    const uint8_t* p = image.pixels.data();
    for (int64_t c = 0; c < 3; ++c) {
        const int64_t src = C >= 3 ? c : 0;
        for (int64_t i = 0; i < H * W; ++i) o[c * H * W + i] = p[i * C + src] / 255.0f;
    }
    return out;
}

Tensor to_gray_tensor(const Image& image) {
    const int64_t H = image.height, W = image.width, C = image.channels;
    to_tensor(image);  // the same checks of size and channels, with the same messages
    Tensor out(Shape{1, H, W});
    float* o = out.data();
    const uint8_t* p = image.pixels.data();
    for (int64_t i = 0; i < H * W; ++i) {
        const uint8_t* px = p + i * C;
        const uint32_t luma =
            C >= 3 ? (19595u * px[0] + 38470u * px[1] + 7471u * px[2] + 0x8000u) >> 16 : px[0];
        o[i] = static_cast<float>(luma) / 255.0f;
    }
    return out;
}

namespace {

InputFile open_image_file(const std::string& path) {
    return InputFile(path, [&path](const std::string& why) {
        throw ImageError(fmt::format("{}: {}", path, why));
    });
}

// Appends the rest of the file to bytes, refusing more than kMaxImageFileBytes in all.
void read_rest(InputFile& in, std::vector<uint8_t>& bytes, const std::string& path) {
    std::vector<uint8_t> chunk(1 << 20);
    for (;;) {
        const size_t n = in.read(chunk.data(), chunk.size());
        bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        if (bytes.size() > kMaxImageFileBytes)
            throw ImageError(
                fmt::format("{}: file is larger than {} bytes", path, kMaxImageFileBytes));
        if (n < chunk.size()) return;
    }
}

// Throws the "unknown image format" or "GIF images are not supported" error for data that no
// decoder here reads; returns for PPM/PGM, PNG and JPEG (by their first bytes).
void check_signature(const uint8_t* data, size_t size, const std::string& name) {
    if (size == 0) throw ImageError(fmt::format("{}: empty file", name));
    if (looks_like_ppm(data, size)) return;
    // The first byte is enough to commit: the PNG/JPEG readers check the rest of the signature
    // and call a file cut inside it truncated.
    if (data[0] == 0x89 || data[0] == 0xFF) return;

    auto starts_with = [&](const char* magic, size_t n) {
        return size >= n && std::memcmp(data, magic, n) == 0;
    };
    const char* other = starts_with("GIF8", 4)                                ? "GIF"
                        : starts_with("BM", 2)                                ? "BMP"
                        : starts_with("II*\0", 4) || starts_with("MM\0*", 4)  ? "TIFF"
                        : size >= 12 && std::memcmp(data + 8, "WEBP", 4) == 0 ? "WebP"
                                                                              : nullptr;
    if (other)
        throw ImageError(
            fmt::format("{}: {} images are not supported; convert to PNG, JPEG or "
                        "PPM",
                        name, other));
    std::string first;
    for (size_t i = 0; i < size && i < 8; ++i) first += fmt::format(" {:02x}", data[i]);
    throw ImageError(
        fmt::format("{}: unknown image format (first bytes{}); vitlab reads PPM/PGM "
                    "(P2, P3, P5, P6), PNG and JPEG",
                    name, first));
}

// The first 16 bytes hold a whole PNG (8 bytes), JPEG (FF D8 FF) or PPM/PGM signature ("P5"
// and whitespace).
bool whole_signature(const uint8_t* d) {
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (d[0] == 'P')
        return (d[1] == '2' || d[1] == '3' || d[1] == '5' || d[1] == '6') &&
               (std::isspace(d[2]) != 0 || d[2] == '#');
    if (d[0] == 0x89) return std::memcmp(d, png, 8) == 0;
    return d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
    InputFile in = open_image_file(path);
    std::vector<uint8_t> bytes;
    read_rest(in, bytes, path);
    return bytes;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
    check_signature(data, size, name);
    if (looks_like_ppm(data, size)) return decode_ppm(data, size, name);
    return decode_png_jpeg(data, size, name);
}

Image read_image(const std::string& path) {
    InputFile in = open_image_file(path);
    // The signature first: /dev/zero, or a checkpoint given as the image by mistake, is refused
    // after 16 bytes instead of after reading up to kMaxImageFileBytes.
    std::vector<uint8_t> bytes(16);
    bytes.resize(in.read(bytes.data(), bytes.size()));
    check_signature(bytes.data(), bytes.size(), path);
    // Random bytes (/dev/urandom) that happen to start like a signature are refused here too:
    // the decoders check a whole signature first, so running one on these 16 bytes gives the
    // same message the whole file would.
    if (bytes.size() == 16 && !whole_signature(bytes.data())) decode_image(bytes.data(), 16, path);
    read_rest(in, bytes, path);
    return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace vitlab
